#include "replayer/replay_session.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/log.h"
#include "common/ptrace.h"
#include "common/syscalls.h"

namespace rrl::replayer {

namespace {

const LogChannel kLog("replayer");

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

constexpr int64_t kERestartBlock = 516;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("death by signal {}", WTERMSIG(status));
  int sig = WSTOPSIG(status);
  if (sig == (SIGTRAP | 0x80)) return "a syscall stop";
  if (status >> 16) return fmt::format("ptrace event {}", status >> 16);
  const char* abbrev = sigabbrev_np(sig);
  return fmt::format("signal SIG{}", abbrev ? abbrev : "?");
}

}  // namespace

// rip, rsp and the argument registers (as many as the syscall takes) must
// match at every syscall. The other
// general registers are not compared: on machines where rdtsc cannot be
// trapped (PR_SET_TSC is ignored under some hypervisors) a timestamp that
// ld.so or the program read can sit in a callee-saved register and differ
// harmlessly; setting the recorded registers at the end of every syscall
// heals it. A value that matters reaches a syscall argument or the output.
std::optional<std::string> compare_regs(const Registers& e, const Registers& a, int nargs) {
  struct Field {
    const char* name;
    unsigned long long user_regs_struct::*ptr;
  };
  static const Field kFields[] = {
      {"rip", &user_regs_struct::rip}, {"rsp", &user_regs_struct::rsp},
      {"rdi", &user_regs_struct::rdi}, {"rsi", &user_regs_struct::rsi},
      {"rdx", &user_regs_struct::rdx}, {"r10", &user_regs_struct::r10},
      {"r8", &user_regs_struct::r8},   {"r9", &user_regs_struct::r9},
  };
  std::string diff;
  int checked = 0;
  for (const auto& f : kFields) {
    if (checked++ >= 2 + nargs) break;  // rip, rsp, then the arguments in order
    if (e.r.*f.ptr != a.r.*f.ptr)
      diff += fmt::format("{}{} recorded {:#x}, replayed {:#x}", diff.empty() ? "" : "; ", f.name,
                          e.r.*f.ptr, a.r.*f.ptr);
  }
  if (diff.empty()) return std::nullopt;
  return diff;
}

namespace {

// Branch counts in the trace help only where this machine counts too (and
// RR_LIKE_PROGRESS does not say "software"); without them, arbitrary points
// are found by their state, which every trace records.
std::unique_ptr<progress::Source> replay_progress(const trace::Header& h) {
  const char* want = std::getenv("RR_LIKE_PROGRESS");
  if (h.progress_source != static_cast<uint8_t>(progress::Kind::kBranchCounter) ||
      (want && std::string(want) == "software"))
    return progress::software_source();
  auto counter = progress::branch_counter_source();
  if (!counter) return progress::software_source();
  return std::move(*counter);
}

}  // namespace

ReplaySession::ReplaySession(trace::TraceReader reader, std::set<std::string> shared_files)
    : reader_(std::move(reader)), shared_files_(std::move(shared_files)) {
  progress_ = replay_progress(reader_.header());
}

void ReplaySession::follow_progress(const ReplayTask& t, uint64_t start) {
  if (auto st = progress_->attach(t.tid, start); !st)
    kLog.info(t.rec_tid, "no branch count for this task: {}", st.error().describe());
}

ReplaySession::~ReplaySession() {
  kill_all();
}

Expected<std::optional<trace::Event>> ReplaySession::next_event() {
  if (lookahead_) {
    auto ev = std::move(lookahead_);
    lookahead_.reset();
    return ev;
  }
  return reader_.next();
}

Expected<const trace::Event*> ReplaySession::peek_event() {
  if (!lookahead_) {
    auto next = reader_.next();
    if (!next) return std::unexpected(next.error());
    if (!*next) return nullptr;
    lookahead_ = std::move(*next);
  }
  return &*lookahead_;
}

namespace {

// Ctrl-C, a hangup or a kill (a test's timeout) ends the replay cleanly: the
// handler only notes the signal; waits return EINTR (no SA_RESTART), and the
// replay unwinds, killing its tasks and removing its scratch directory.
volatile sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

}  // namespace

Status ReplaySession::check_stop_request(const char* where) const {
  if (g_stop_signal == 0) return {};
  return fail(fmt::format("replay interrupted by signal {} {} event {} of recorded tid {}",
                          static_cast<int>(g_stop_signal), where, current_event_, current_tid_));
}

Status ReplaySession::run() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  while (true) {
    auto more = step_event();
    if (!more) return std::unexpected(more.error());
    if (!*more) return {};
  }
}

Expected<bool> ReplaySession::step_event() {
  RRL_TRY(check_stop_request("before"));
  auto ev = next_event();
  if (!ev) return std::unexpected(ev.error());
  if (!*ev) return false;
  current_event_ = (*ev)->number;
  current_tid_ = (*ev)->tid;
  kLog.debug((*ev)->tid, "event {} {}", (*ev)->number, trace::kind_name((*ev)->data));
  if (hooks_) RRL_TRY(hooks_->before_event(**ev));
  if (auto st = dispatch(**ev); !st) {
    // A stop request also reaches the replayed tasks (Ctrl-C, a timeout's
    // signal to the process group): say that, not "diverged".
    RRL_TRY(check_stop_request("while replaying"));
    return std::unexpected(st.error());
  }
  current_event_ = (*ev)->number + 1;
  if (progress::resets_progress((*ev)->data)) {
    auto it = tasks_.find((*ev)->tid);
    if (it != tasks_.end() && !it->second->exited) RRL_TRY(progress_->reset(it->second->tid));
  }
  if (hooks_) {
    // A debugger's single-step that ended in this syscall ends after it.
    auto it = tasks_.find((*ev)->tid);
    bool debugged = it != tasks_.end() && is_debugged(*it->second);
    // An mmap or a recorded memory write may have replaced a breakpoint's int3.
    if (debugged && !user_bps_.empty() && std::holds_alternative<trace::SyscallEvent>((*ev)->data))
      RRL_TRY(user_bps_.refresh(it->second->tid));
    if (debugged && std::exchange(it->second->stepped_into_syscall, false))
      RRL_TRY(report(*it->second, DebugStop{DebugStop::Kind::kStep, 0, {}, 0, true}));
    RRL_TRY(hooks_->after_event(**ev));
  }
  return true;
}

Status ReplaySession::dispatch(const trace::Event& ev) {
  return std::visit(Overloaded{
                        [&](const trace::SyscallEvent& d) { return on_syscall(ev, d); },
                        [&](const trace::SyscallEntryEvent& d) { return on_syscall_entry(ev, d); },
                        [&](const trace::SignalEvent& d) { return on_signal(ev, d); },
                        [&](const trace::RdtscEvent& d) { return on_rdtsc(ev, d); },
                        [&](const trace::ExecEvent& d) { return on_exec(ev, d); },
                        // A mapping's contents are used by the mmap syscall before it.
                        [&](const trace::MmapEvent&) { return Status{}; },
                        [&](const trace::CloneEvent& d) { return on_clone(ev, d); },
                        [&](const trace::ExitEvent& d) { return on_exit(ev, d); },
                        [&](const trace::PatchEvent& d) { return on_patch(ev, d); },
                        [&](const trace::SchedEvent& d) { return on_sched(ev, d); },
                        [&](const trace::BufferedSyscallEvent& d) { return on_buffered(ev, d); },
                        [&](const trace::PreloadEvent& d) { return on_preload(ev, d); },
                    },
                    ev.data);
}

Error ReplaySession::divergence(const trace::Event& ev, const std::string& what) const {
  return Error{fmt::format("replay diverged from the recording at event {} (recorded tid {}): {}",
                           ev.number, ev.tid, what),
               0};
}

Expected<ReplayTask*> ReplaySession::task_for(const trace::Event& ev) {
  auto it = tasks_.find(ev.tid);
  if (it == tasks_.end() || it->second->exited)
    return std::unexpected(
        divergence(ev, "the trace names a task that does not exist in the replay"));
  return it->second.get();
}

Expected<int> ReplaySession::wait_stop(ReplayTask& t) {
  // Checked before every wait, not only when one is interrupted: a search
  // stopping the task thousands of times a second rarely is.
  RRL_TRY(check_stop_request("while replaying"));
  int status = 0;
  while (::waitpid(t.tid, &status, __WALL) < 0) {
    if (errno != EINTR) return fail_errno(fmt::format("waitpid for replayed task {}", t.tid));
    RRL_TRY(check_stop_request("while replaying"));
  }
  if (WIFEXITED(status) || WIFSIGNALED(status)) t.exited = true;
  return status;
}

// A new task's first stop (after its clone) is collected when it first runs.
Status ReplaySession::collect_first_stop(ReplayTask& t) {
  if (!t.first_stop_pending) return {};
  auto st = wait_stop(t);
  if (!st) return std::unexpected(st.error());
  t.first_stop_pending = false;
  return {};
}

Status ReplaySession::resume(ReplayTask& t, Resume how, int sig, bool step) {
  if (t.restart_result != 0 && sig == 0) {
    // The recorded kernel restarted this interrupted syscall on its way back to
    // user mode; with nothing pending here, we do what it did.
    auto regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    regs->r.rax = t.restart_result == -kERestartBlock ? SYS_restart_syscall : regs->r.orig_rax;
    regs->r.rip -= 2;
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
  }
  t.restart_result = 0;
  t.at_entry = false;
  t.last_resume_sysemu = how == Resume::kSysemu || (step && how == Resume::kSyscall);
  if (step) {
    // Never step into a syscall that would then run for real.
    return how == Resume::kCont ? ptrace::singlestep(t.tid, sig)
                                : ptrace::sysemu_singlestep(t.tid, sig);
  }
  switch (how) {
    case Resume::kSysemu:
      return ptrace::sysemu(t.tid, sig);
    case Resume::kSyscall:
      return ptrace::syscall(t.tid, sig);
    case Resume::kCont:
      break;
  }
  return ptrace::cont(t.tid, sig);
}

Expected<int> ReplaySession::advance(ReplayTask& t, bool sysemu) {
  if (auto st = collect_first_stop(t); !st) return std::unexpected(st.error());
  int sig = std::exchange(t.pending_sig, 0);
  return run_task(t, sysemu ? Resume::kSysemu : Resume::kSyscall, sig);
}

// Runs the task to its next syscall entry. A syscall that replay will run for
// real is reached through an ordinary entry stop (PTRACE_SYSCALL), so that it
// costs an entry and an exit stop, not the four stops of re-running a call
// that SYSEMU has already skipped. Coming from a SYSEMU stop, the skipped
// call's exit is reported first and passed over.
Expected<int> ReplaySession::advance_to_entry(ReplayTask& t, bool for_real) {
  if (!for_real) return advance(t);
  auto status = advance(t, /*sysemu=*/false);
  while (status && WIFSTOPPED(*status) && WSTOPSIG(*status) == (SIGTRAP | 0x80)) {
    auto is_exit = ptrace::syscall_stop_is_exit(t.tid);
    if (!is_exit) return std::unexpected(is_exit.error());
    if (!*is_exit) {
      // (A debugger's single-step reaches it through SYSEMU: skipped already.)
      t.at_real_entry = !t.last_resume_sysemu;
      break;
    }
    // Through run_task, like any resumption: a debugger's breakpoint may
    // come before the entry.
    status = advance(t, /*sysemu=*/false);
  }
  return status;
}

// The task sits at an ordinary entry stop of a call replay decided not to run
// (recorded as failed, or as refused by the recorder): it is skipped.
Status ReplaySession::skip_real_entry(ReplayTask& t) {
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  regs->r.orig_rax = static_cast<uint64_t>(-1);
  RRL_TRY(ptrace::set_regs(t.tid, *regs));
  t.at_real_entry = false;
  RRL_TRY(ptrace::syscall(t.tid));
  auto status = wait_filtered(t, Resume::kSyscall);
  if (!status) return std::unexpected(status.error());
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != (SIGTRAP | 0x80))
    return fail("skipping a syscall: expected its exit stop, got " + describe_status(*status));
  return {};
}

// Waits for the task's next stop that matters: job-control notifications and
// stray signals (see is_stray_signal) are let go, resuming the task the way it
// was resumed.
Expected<int> ReplaySession::wait_filtered(ReplayTask& t, Resume how, bool step) {
  while (true) {
    auto status = wait_stop(t);
    if (!status) return status;
    // A SIGCONT sent to a seized task traps it once (PTRACE_EVENT_STOP with
    // SIGTRAP) to tell the tracer; replay has nothing to do there.
    bool notification =
        WIFSTOPPED(*status) && (*status >> 16) == PTRACE_EVENT_STOP && WSTOPSIG(*status) == SIGTRAP;
    if (!notification && !is_stray_signal(t, *status)) return status;
    RRL_TRY(resume(t, how, 0, step));
  }
}

// Replayed processes are real processes: the kernel sends them signals of its
// own (SIGCHLD when a replayed child exits, ...). Those are not the recorded
// ones, which replay injects itself: they are dropped. A signal replay waits
// for (`expected_signal`) and faults raised by an instruction pass.
bool ReplaySession::is_stray_signal(const ReplayTask& t, int status) const {
  if (!WIFSTOPPED(status) || (status >> 16) != 0) return false;
  int sig = WSTOPSIG(status);
  if (sig == (SIGTRAP | 0x80) || sig == t.expected_signal) return false;
  auto si = ptrace::get_siginfo(t.tid);
  if (!si) return false;
  bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
  return !(fault && (si->si_code > 0 || si->si_code == SI_KERNEL));
}

Expected<Registers> ReplaySession::advance_to_syscall(ReplayTask& t, const trace::Event& ev,
                                                      int64_t nr, bool for_real) {
  if (!t.at_entry) {
    auto status = advance_to_entry(t, for_real);
    if (!status) return std::unexpected(status.error());
    // A vsyscall-page call stops through the replay's seccomp filter.
    bool vsyscall = WIFSTOPPED(*status) && (*status >> 16) == PTRACE_EVENT_SECCOMP;
    if (!vsyscall && (!WIFSTOPPED(*status) || WSTOPSIG(*status) != (SIGTRAP | 0x80))) {
      std::string where;
      if (WIFSTOPPED(*status)) {
        auto now = ptrace::get_regs(t.tid);
        auto si = ptrace::get_siginfo(t.tid);
        if (now && si) where = fmt::format(" at {:#x} (si_code {})", now->ip(), si->si_code);
      }
      return std::unexpected(
          divergence(ev, fmt::format("expected syscall {}, but the task stopped with {}{}",
                                     syscalls::name(nr), describe_status(*status), where)));
    }
    t.at_entry = true;
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (regs->syscallno() != nr)
    return std::unexpected(
        divergence(ev, fmt::format("expected syscall {}, replay made syscall {}",
                                   syscalls::name(nr), syscalls::name(regs->syscallno()))));
  return regs;
}

// Runs the syscall the task is stopped at (a SYSEMU entry stop, where the
// kernel has already decided to skip it) for real: step back onto the syscall
// instruction, let the skipped syscall finish (its exit stop), then run the
// instruction again through ordinary entry and exit stops. Returns the status
// of the stop after the entry: the exit, or a ptrace event (clone, exec, exit).
Expected<int> ReplaySession::run_for_real(ReplayTask& t, Registers& regs, bool from_sysemu_stop,
                                          bool wait_last) {
  if (t.at_real_entry) {
    // An ordinary entry stop: the kernel runs the call (as `regs` now say) when resumed.
    t.at_real_entry = false;
    t.at_entry = false;
    RRL_TRY(ptrace::set_regs(t.tid, regs));
    RRL_TRY(ptrace::syscall(t.tid));
    if (!wait_last) return 0;
    return wait_filtered(t, Resume::kSyscall);
  }
  regs.r.rax = regs.r.orig_rax;
  regs.r.rip -= 2;
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  t.at_entry = false;
  // From a SYSEMU stop the skipped call first finishes (an exit stop); from
  // the exit stop of a syscall run for real, the next stop is the entry.
  std::vector<const char*> stops{"entry"};
  if (from_sysemu_stop) stops.insert(stops.begin(), "exit of the emulated call");
  for (const char* stop : stops) {
    RRL_TRY(ptrace::syscall(t.tid));
    auto status = wait_filtered(t, Resume::kSyscall);
    if (!status) return status;
    if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != (SIGTRAP | 0x80))
      return fail(fmt::format("re-running a syscall: expected its {} stop, got {}", stop,
                              describe_status(*status)));
  }
  RRL_TRY(ptrace::syscall(t.tid));
  if (!wait_last) return 0;  // the caller collects the stop
  return wait_filtered(t, Resume::kSyscall);
}

void ReplaySession::kill_all() {
  for (auto& [rec, t] : tasks_)
    if (!t->exited) ::kill(t->tid, SIGKILL);
  for (auto& [rec, t] : tasks_) {
    if (t->exited) continue;
    int status;
    for (int i = 0; i < 5000; ++i) {
      pid_t r = ::waitpid(t->tid, &status, __WALL | WNOHANG);
      if (r < 0 || (r > 0 && (WIFEXITED(status) || WIFSIGNALED(status)))) break;
      if (r > 0)
        (void)ptrace::cont(t->tid);
      else
        ::usleep(1000);
    }
    t->exited = true;
  }
}

}  // namespace rrl::replayer
