// Checkpoints: frozen copies of the replayed processes, so that going back in
// time replays from a nearby point instead of from the start.
//
// Between two events every replayed task is stopped and none is inside a
// syscall (with the exceptions checkpoint() refuses). A fork injected into
// each process then makes a copy that stays stopped for as long as the
// checkpoint lives. Restoring forks the frozen copy once more, so a
// checkpoint can be restored any number of times, and the new live copy gets
// the registers the original had. The trace is read again from the start and
// skipped up to the checkpoint's event (much cheaper than replaying it).
//
// Only processes with a single thread can be copied this way: fork copies
// the calling thread alone. A point where some process has several threads
// is not checkpointed; going back past it replays from an earlier
// checkpoint. Processes that map files MAP_SHARED are not checkpointed either
// (the copies would share those pages with the live replay).
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/ptrace.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

const LogChannel kLog("checkpoint");

bool can_copy(const ReplayTask& t) {
  return !t.at_entry && !t.at_real_entry && !t.at_event_stop && !t.first_stop_pending &&
         t.pending_sig == 0 && t.expected_signal == 0 && t.signal_sent == 0;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status;
  for (int i = 0; i < 1000; ++i) {
    pid_t r = ::waitpid(pid, &status, __WALL);
    if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) return;
    (void)ptrace::cont(pid);
  }
}

}  // namespace

Checkpoint::~Checkpoint() {
  for (const auto& f : live) kill_and_reap(f.task.tid);
}

// Forks `t`'s process by a syscall injected into it; the copy is left at its
// first stop.
Expected<pid_t> ReplaySession::fork_copy(ReplayTask& t) {
  auto r = inject_anywhere(t, SYS_fork, {});
  if (!r) return std::unexpected(r.error());
  if (*r <= 0) return fail(fmt::format("fork for a checkpoint failed: {}", *r));
  pid_t child = static_cast<pid_t>(*r);
  if (auto waited = ptrace::wait_status(child, "for a checkpoint's copy"); !waited)
    return std::unexpected(waited.error());
  return child;
}

// A copy without the debugger's breakpoints and watched-page protections.
Expected<pid_t> ReplaySession::fork_clean_copy(ReplayTask& t) {
  if (!is_debugged(t)) return fork_copy(t);
  for (uint64_t addr : user_bps_.addresses()) RRL_TRY(user_bps_.lift(t.tid, addr));
  for (const auto& [page, wp] : watched_pages_)
    if (wp.applied != wp.original) RRL_TRY(set_page_prot(t, page, wp.original));
  auto copy = fork_copy(t);
  for (uint64_t addr : user_bps_.addresses()) RRL_TRY(user_bps_.restore(t.tid, addr));
  for (const auto& [page, wp] : watched_pages_)
    if (wp.applied != wp.original) RRL_TRY(set_page_prot(t, page, wp.applied));
  return copy;
}

Expected<std::shared_ptr<Checkpoint>> ReplaySession::checkpoint() {
  if (!shared_files_.empty()) return std::shared_ptr<Checkpoint>();
  std::map<pid_t, int> threads;
  for (auto& [rec, t] : tasks_) {
    if (t->exited) continue;
    if (!can_copy(*t)) return std::shared_ptr<Checkpoint>();
    if (++threads[t->tgid] > 1) return std::shared_ptr<Checkpoint>();
  }
  auto cp = std::make_shared<Checkpoint>();
  cp->event = current_event_;
  cp->links = exec_links_;
  cp->exe_files = exe_files_;
  cp->file_maps = file_maps_;
  cp->untraced_ip = untraced_ip_;
  cp->shared_files = shared_files_;
  cp->trace_dir = reader_.dir();
  for (auto& [rec, t] : tasks_) {
    if (t->exited) {
      cp->gone.push_back(*t);
      continue;
    }
    auto regs = ptrace::get_regs(t->tid);
    if (!regs) return std::unexpected(regs.error());
    auto copy = fork_clean_copy(*t);
    if (!copy) return std::unexpected(copy.error());
    Checkpoint::Frozen f{*t, *regs};
    f.task.tid = f.task.tgid = *copy;
    if (auto n = progress_->count(t->tid); n && *n) f.branches = **n;
    cp->live.push_back(f);
  }
  kLog.debug(0, "checkpoint at event {}: {} processes", cp->event, cp->live.size());
  return cp;
}

Expected<std::unique_ptr<ReplaySession>> ReplaySession::restore(const Checkpoint& cp) {
  auto reader = trace::TraceReader::open(cp.trace_dir);
  if (!reader) return std::unexpected(reader.error());
  for (uint64_t i = 0; i < cp.event; ++i) {
    auto ev = reader->next();
    if (!ev) return std::unexpected(ev.error());
    if (!*ev) return fail("a checkpoint lies past the end of its trace");
  }
  auto session = std::make_unique<ReplaySession>(std::move(*reader), cp.shared_files);
  session->exec_links_ = cp.links;
  session->exe_files_ = cp.exe_files;
  session->file_maps_ = cp.file_maps;
  session->untraced_ip_ = cp.untraced_ip;
  session->current_event_ = cp.event;
  for (const auto& t : cp.gone) session->tasks_[t.rec_tid] = std::make_unique<ReplayTask>(t);
  for (const auto& f : cp.live) {
    ReplayTask frozen = f.task;
    auto copy = session->fork_copy(frozen);
    if (!copy) return std::unexpected(copy.error());
    auto task = std::make_unique<ReplayTask>(f.task);
    task->tid = task->tgid = *copy;
    session->follow_progress(*task, f.branches);
    session->tasks_[task->rec_tid] = std::move(task);
    RRL_TRY(ptrace::set_regs(*copy, f.regs));
  }
  return session;
}

}  // namespace rrl::replayer
