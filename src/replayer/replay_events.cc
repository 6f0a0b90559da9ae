// Replaying everything that is not a plain syscall: exec, clone, exit,
// signals, rdtsc, code patches and time-slice switches.
#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/proc_task.h"
#include "common/ptrace.h"
#include "common/syscalls.h"
#include "replayer/exec_link.h"
#include "replayer/replay_session.h"
#include "vdso/vdso.h"

namespace rrl::replayer {

namespace {

const LogChannel kLog("replayer");

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool is_syscall_stop(int status) {
  return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80);
}

int ptrace_event(int status) {
  return WIFSTOPPED(status) ? status >> 16 : 0;
}

}  // namespace

// The name to exec for `ex` (see exec_copy.h and exec_link.h).
Expected<std::string> ReplaySession::exec_link(const trace::ExecEvent& ex,
                                               std::optional<InterpPatch>* patch) {
  // At exec, the only file mappings are the program and its loader. When the
  // loader the kernel will pick is still the very file recorded (same device,
  // inode and size), the program needs no rewritten copy.
  std::string interp;
  for (const auto& m : ex.mappings) {
    if (m.path == ex.path || m.trace_file.empty()) continue;
    interp = reader_.file_path(m.trace_file);
    struct stat now, saved;
    if (::stat(m.path.c_str(), &now) == 0 && ::stat(interp.c_str(), &saved) == 0 &&
        now.st_dev == m.dev && now.st_ino == m.inode && now.st_size == saved.st_size)
      interp.clear();
  }
  return exec_links_->link_for(ex, reader_.file_path(ex.trace_file), interp, patch);
}

Status ReplaySession::apply_exec_state(ReplayTask& t, const trace::Event& ev,
                                       const trace::ExecEvent& ex,
                                       const std::optional<InterpPatch>& patch) {
  exe_files_[t.rec_tgid] = reader_.file_path(ex.trace_file);
  file_maps_[t.rec_tgid].clear();
  for (const auto& m : ex.mappings)
    if (!m.trace_file.empty()) file_maps_[t.rec_tgid].push_back(m);
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (const auto& rec : ex.mappings) {
    bool found = false;
    for (const auto& m : *maps) found |= m.start == rec.start && m.end == rec.end;
    if (!found)
      return std::unexpected(divergence(
          ev, fmt::format("after exec, {} is not at {:#x}-{:#x} as when recorded (was the kernel "
                          "or the dynamic loader changed?)",
                          rec.path.empty() ? "a mapping" : rec.path, rec.start, rec.end)));
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (regs->ip() != ex.regs.ip())
    return std::unexpected(divergence(
        ev, fmt::format("exec entered at {:#x}, recorded {:#x}", regs->ip(), ex.regs.ip())));
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(ex.stack_start), ex.stack));
  RRL_TRY(ptrace::set_regs(t.tid, ex.regs));
  if (patch) {
    // Put the program's own loader path back where the copy had another.
    auto entry = vdso::auxv_lookup(ex.auxv, AT_ENTRY);
    if (!entry) return std::unexpected(divergence(ev, "the recorded auxv has no AT_ENTRY"));
    uint64_t addr = *entry - patch->e_entry + patch->vaddr;
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(patch->original.data()),
                                   patch->original.size());
    RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(addr), bytes));
  }
  t.at_event_stop = true;  // the execve's exit stop comes with its syscall event
  return {};
}

Status ReplaySession::start_initial(const trace::Event& ev, const trace::ExecEvent& ex) {
  std::optional<InterpPatch> patch;
  auto link = exec_link(ex, &patch);
  if (!link) return std::unexpected(link.error());
  auto pid = spawn_replay_child(exec_links_->dir(), *link, ex.argv, ex.envp);
  if (!pid) return std::unexpected(pid.error());
  auto task = std::make_unique<ReplayTask>();
  task->rec_tid = task->rec_tgid = ev.tid;
  task->tid = task->tgid = *pid;
  ReplayTask& t = *task;
  tasks_[ev.tid] = std::move(task);
  auto status = wait_stop(t);
  if (!status) return std::unexpected(status.error());
  if (ptrace_event(*status) != PTRACE_EVENT_EXEC)
    return fail("the replayed program did not start: its exec stopped with status " +
                std::to_string(*status));
  return apply_exec_state(t, ev, ex, patch);
}

// Runs the task to its next syscall, which must be one of `nrs`.
Expected<Registers> ReplaySession::advance_to_one_of(ReplayTask& t, const trace::Event& ev,
                                                     std::initializer_list<int64_t> nrs,
                                                     const char* what, bool for_real) {
  if (!t.at_entry) {
    auto status = advance_to_entry(t, for_real);
    if (!status) return std::unexpected(status.error());
    if (!is_syscall_stop(*status))
      return std::unexpected(
          divergence(ev, std::string("expected ") + what + ", the task stopped otherwise"));
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  for (int64_t nr : nrs)
    if (regs->syscallno() == nr) return regs;
  return std::unexpected(divergence(
      ev, std::string("expected ") + what + ", replay made " + syscalls::name(regs->syscallno())));
}

Status ReplaySession::on_exec(const trace::Event& ev, const trace::ExecEvent& ex) {
  if (tasks_.empty()) return start_initial(ev, ex);
  // A thread other than the leader may exec: it is known by its own tid until then.
  pid_t performer = ex.former_tid ? ex.former_tid : ev.tid;
  auto it = tasks_.find(performer);
  if (it == tasks_.end())
    return std::unexpected(
        divergence(ev, "the exec names a task that does not exist in the replay"));
  ReplayTask& t = *it->second;
  auto regs = advance_to_one_of(t, ev, {SYS_execve, SYS_execveat}, "an execve",
                                /*for_real=*/true);
  if (!regs) return std::unexpected(regs.error());
  int64_t nr = regs->syscallno();
  // Exec the trace's copy of the program, through a link whose name is as long
  // as the path the program used, so that the new stack has the same layout.
  std::optional<InterpPatch> patch;
  auto link = exec_link(ex, &patch);
  if (!link) return std::unexpected(link.error());
  uint64_t argv = nr == SYS_execve ? regs->arg(1) : regs->arg(2);
  uint64_t envp = nr == SYS_execve ? regs->arg(2) : regs->arg(3);
  uint64_t name_addr = (regs->sp() - 256 - link->size() - 1) & ~15ULL;
  std::vector<uint8_t> name(link->begin(), link->end());
  name.push_back(0);
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(name_addr), name));
  regs->r.orig_rax = SYS_execve;
  regs->r.rdi = name_addr;
  regs->r.rsi = argv;
  regs->r.rdx = envp;
  auto status = run_for_real(t, *regs, /*from_sysemu_stop=*/true, /*wait_last=*/false);
  if (!status) return std::unexpected(status.error());
  RRL_TRY(await_exec(t, ev));
  if (is_debugged(t)) {
    user_bps_.clear();  // the address space they were in is gone
    watched_pages_.clear();
    pages_generation_ = 0;
    syscall_insn_ = 0;
  }
  // The process's other threads are gone; the performer is now the leader.
  for (auto& [rec, other] : tasks_)
    if (other.get() != &t && other->tgid == t.tgid) other->exited = true;
  if (performer != ev.tid) {
    auto self = std::move(tasks_[performer]);
    tasks_.erase(performer);
    self->rec_tid = ev.tid;
    self->tid = self->tgid;
    tasks_[ev.tid] = std::move(self);
  }
  return apply_exec_state(*tasks_[ev.tid], ev, ex, patch);
}

// Waits for the exec stop of `t`. While the kernel ends the process's other
// threads, each stops at its exit (PTRACE_O_TRACEEXIT) and must be let go, or
// the exec waits forever; the exec'ing thread reappears with the leader's tid.
Status ReplaySession::await_exec(ReplayTask& t, const trace::Event& ev) {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, __WALL);
    if (pid < 0) {
      if (errno != EINTR) return fail_errno("waitpid during a replayed exec");
      RRL_TRY(check_stop_request("during the exec of"));
      continue;
    }
    if ((pid == t.tid || pid == t.tgid) && ptrace_event(status) == PTRACE_EVENT_EXEC) return {};
    if (WIFSTOPPED(status) && ptrace_event(status) == PTRACE_EVENT_EXIT) {
      (void)ptrace::cont(pid);
      continue;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      for (auto& [rec, other] : tasks_)
        if (other->tid == pid && other.get() != &t) other->exited = true;
      if (pid == t.tid) return std::unexpected(divergence(ev, "the task died in its execve"));
      continue;
    }
    if (pid == t.tid || pid == t.tgid)
      return std::unexpected(divergence(
          ev,
          fmt::format("the replayed execve stopped with status {:#x}, not at its exec", status)));
  }
}

Status ReplaySession::on_clone(const trace::Event& ev, const trace::CloneEvent& ce) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  auto regs =
      advance_to_one_of(t, ev, {SYS_clone, SYS_clone3, SYS_fork, SYS_vfork}, "a clone or fork",
                        /*for_real=*/true);
  if (!regs) return std::unexpected(regs.error());
  int64_t nr = regs->syscallno();
  uint64_t child_tid_addr = 0;
  if (nr == SYS_clone && (regs->arg(0) & CLONE_CHILD_SETTID)) child_tid_addr = regs->arg(3);
  if (nr == SYS_clone3) {
    uint64_t args[3] = {};
    std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(args), sizeof args);
    if (ptrace::read_memory(t.tid, RemoteAddr(regs->arg(0)), raw) && (args[0] & CLONE_CHILD_SETTID))
      child_tid_addr = args[2];
  }
  auto status = run_for_real(t, *regs);
  if (!status) return std::unexpected(status.error());
  int event = ptrace_event(*status);
  if (event != PTRACE_EVENT_CLONE && event != PTRACE_EVENT_FORK && event != PTRACE_EVENT_VFORK)
    return std::unexpected(divergence(ev, "the replayed clone did not create a task"));
  auto msg = ptrace::get_event_msg(t.tid);
  if (!msg) return std::unexpected(msg.error());
  auto child = std::make_unique<ReplayTask>();
  child->rec_tid = ce.new_tid;
  child->tid = static_cast<pid_t>(*msg);
  child->tgid = ce.kind == trace::CloneEvent::kThread ? t.tgid : child->tid;
  child->rec_tgid = ce.kind == trace::CloneEvent::kThread ? t.rec_tgid : ce.new_tid;
  ReplayTask& c = *child;
  tasks_[ce.new_tid] = std::move(child);
  t.at_event_stop = true;
  // The kernel told the child its replay tid; it must see the recorded one.
  auto first = wait_stop(c);
  if (!first) return std::unexpected(first.error());
  // A forked child got a copy of the debugger's breakpoints; a vfork child
  // shares them with its parent until it execs.
  if (ce.kind == trace::CloneEvent::kFork && is_debugged(t)) user_bps_.scrub(c.tid);
  if (ce.kind != trace::CloneEvent::kThread) {
    exe_files_[ce.new_tid] = exe_files_[t.rec_tgid];
    file_maps_[ce.new_tid] = file_maps_[t.rec_tgid];
  }
  if (child_tid_addr) {
    uint32_t rec = static_cast<uint32_t>(ce.new_tid);
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(&rec), sizeof rec);
    RRL_TRY(ptrace::write_memory(c.tid, RemoteAddr(child_tid_addr), bytes));
  }
  return {};
}

Status ReplaySession::on_exit(const trace::Event& ev, const trace::ExitEvent&) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  RRL_TRY(collect_first_stop(t));
  for (int round = 0; round < 4; ++round) {
    int status = 0;
    pid_t got = ::waitpid(t.tid, &status, __WALL | WNOHANG);
    kLog.debug(t.tid, "exit: pending stop {} status {:#x}", got, status);
    if (got == 0) {
      // Nothing pending: make the task reach its end the way it did.
      if (t.pending_sig) {
        RRL_TRY(resume(t, Resume::kCont, std::exchange(t.pending_sig, 0)));
      } else {
        auto st = t.at_entry ? Expected<int>(((SIGTRAP | 0x80) << 8) | 0x7f) : advance(t);
        if (!st && ptrace::is_died(st.error())) {
          // Killed by another thread's exit_group while we were not looking.
          st = wait_stop(t);
        }
        if (!st) return std::unexpected(st.error());
        status = *st;
        if (is_syscall_stop(status)) {
          auto regs = ptrace::get_regs(t.tid);
          if (!regs && ptrace::is_died(regs.error())) {
            t.at_entry = false;
            continue;
          }
          if (!regs) return std::unexpected(regs.error());
          if (regs->syscallno() == SYS_exit || regs->syscallno() == SYS_exit_group) {
            regs->r.rax = regs->r.orig_rax;
            regs->r.rip -= 2;
            RRL_TRY(ptrace::set_regs(t.tid, *regs));
            RRL_TRY(ptrace::cont(t.tid));
          } else {
            // Killed while in this syscall, from outside (kill -9) or by a
            // sibling's exec or exit_group that replay emulates or has not
            // reached yet. Killing it here would take its whole process; it
            // stays parked, never to run again, and goes with the replay.
            t.exited = true;
            return {};
          }
          t.at_entry = false;
        } else if (ptrace_event(status) != PTRACE_EVENT_EXIT && !WIFEXITED(status) &&
                   !WIFSIGNALED(status)) {
          return std::unexpected(divergence(ev, "expected the task to exit"));
        }
      }
      if (!is_syscall_stop(status) &&
          (ptrace_event(status) == PTRACE_EVENT_EXIT || WIFEXITED(status) || WIFSIGNALED(status)))
        got = t.tid;
      else
        got = ::waitpid(t.tid, &status, __WALL);
    }
    if (got < 0) break;
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    if (ptrace_event(status) == PTRACE_EVENT_EXIT) {
      (void)ptrace::cont(t.tid);
      // A thread other than the leader can be reaped at once; the leader only
      // after all its threads, at the end.
      if (t.tid != t.tgid)
        ::waitpid(t.tid, &status, __WALL);
      else
        wait_for_zombie(t.tid, /*timeout_ms=*/1000);
      break;
    }
  }
  t.exited = true;
  return {};
}

Status ReplaySession::on_signal(const trace::Event& ev, const trace::SignalEvent& se) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  if (!se.deterministic) {
    // Job control is not replayed: a stop signal with its default action stops
    // nothing here. One the program catches runs its handler as recorded.
    if (is_stop_signal(se.signo) && !signal_is_caught(t.tid, se.signo)) return {};
    // Sent from outside when recorded: send it again, to this task only.
    RRL_TRY(collect_first_stop(t));
    // Delivered wherever the task was when it arrived: go there first (a no-op
    // when that was right after its previous event).
    if (std::exchange(t.signal_sent, 0) != se.signo) {
      // A second signal recorded at the very point of the previous one (whose
      // default action ignored it, so the kernel went on to the next): it is
      // sent now, and comes right after the pending one.
      bool right_after_signal = false;
      if (t.pending_sig != 0 && se.progress.empty()) {
        auto regs = ptrace::get_regs(t.tid);
        if (!regs) return std::unexpected(regs.error());
        right_after_signal = same_state(se.regs, *regs);
      }
      if ((t.at_entry || t.restart_result == 0) && !right_after_signal)
        RRL_TRY(reach_state(t, ev, se.regs, se.progress));
      if (::syscall(SYS_tgkill, t.tgid, t.tid, se.signo) != 0)
        return fail_errno("send the recorded signal to the replayed task");
    }
    t.restart_result = 0;  // the kernel restarts (or not) around the signal itself
  }
  t.expected_signal = se.signo;
  auto status = advance(t);
  t.expected_signal = 0;
  if (!status) return std::unexpected(status.error());
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != se.signo || ptrace_event(*status) != 0)
    return std::unexpected(divergence(
        ev, fmt::format("expected signal {} to be delivered, the task stopped with status {:#x}",
                        se.signo, *status)));
  siginfo_t si;
  std::memcpy(&si, se.siginfo.data(), sizeof si);
  RRL_TRY(ptrace::set_siginfo(t.tid, si));
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (auto diff = compare_regs(se.regs, *regs))
    return std::unexpected(divergence(ev, "registers at signal delivery: " + *diff));
  t.pending_sig = se.signo;
  if (is_debugged(t)) RRL_TRY(report(t, DebugStop{DebugStop::Kind::kSignal, 0, {}, se.signo}));
  return {};
}

Status ReplaySession::on_rdtsc(const trace::Event& ev, const trace::RdtscEvent& re) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  auto status = advance(t);
  if (!status) return std::unexpected(status.error());
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  uint64_t len = re.rdtscp ? 3 : 2;
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSEGV || regs->ip() + len != re.regs.ip())
    return std::unexpected(divergence(ev, fmt::format("expected rdtsc at {:#x}, the task stopped "
                                                      "with status {:#x} at {:#x}",
                                                      re.regs.ip() - len, *status, regs->ip())));
  return ptrace::set_regs(t.tid, re.regs);
}

}  // namespace rrl::replayer
