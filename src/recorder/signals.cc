// Signals while recording: where they are delivered.
//
// A signal that somebody sent (kill, a timer, SIGCHLD, ...) reaches the task
// wherever the kernel happens to find it: often in the middle of user code,
// a point that replay, without a branch counter, can only find again by
// stopping at every pass through that instruction. POSIX lets delivery be
// late, so the recorder moves it to the next deterministic point instead:
//   1. at the delivery stop, if the task is exactly where its last syscall
//      left it, deliver now (that point is already an event);
//   2. otherwise hold the signal back (resume without it) and keep its siginfo;
//   3. at the task's next syscall entry, send it again (tgkill) before the
//      syscall runs: a blocking syscall is interrupted as the original would
//      have been, and the signal is delivered at the syscall's exit;
//   4. a task that makes no syscall for a whole time slice is interrupted and
//      gets the signal where it stands: an arbitrary point, recorded with all
//      its registers (DESIGN.md, "Progress without a PMU", rule 2).
// Signals an instruction raised (faults) are delivered where they happen: they
// are deterministic. Job-control stop signals are delivered at once.
#include <signal.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "common/log.h"
#include "common/ptrace.h"
#include "recorder/session.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("recorder");

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

// Signals that an instruction raised, rather than somebody sent.
bool is_synchronous(int sig, const siginfo_t& si) {
  bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
  return fault && si.si_code > 0 && si.si_code != SI_KERNEL;
}

// Whether the task has a handler for sig (SigCgt of /proc/TID/status).
bool catches(pid_t tid, int sig) {
  std::ifstream f("/proc/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (!line.starts_with("SigCgt:")) continue;
    uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (mask >> (sig - 1)) & 1;
  }
  return true;  // unknown: assume it does (the safe side for patching)
}

bool same_registers(const Registers& a, const Registers& b) {
  return std::memcmp(&a.r, &b.r, sizeof a.r) == 0;
}

}  // namespace

Expected<bool> Session::try_emulate_rdtsc(Task& t) {
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  uint8_t insn[3] = {};
  if (!ptrace::read_memory(t.tid, RemoteAddr(regs->ip()), insn)) return false;
  trace::RdtscEvent ev;
  if (insn[0] == 0x0f && insn[1] == 0x31) {
    ev.tsc = __rdtsc();
    regs->set_ip(regs->ip() + 2);
  } else if (insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xf9) {
    ev.rdtscp = true;
    ev.tsc = __rdtscp(&ev.aux);
    regs->r.rcx = ev.aux;
    regs->set_ip(regs->ip() + 3);
  } else {
    return false;
  }
  regs->r.rax = ev.tsc & 0xffffffff;
  regs->r.rdx = ev.tsc >> 32;
  RRL_TRY(ptrace::set_regs(t.tid, *regs));
  ev.regs = *regs;
  RRL_TRY(record(t.tid, ev));
  return true;
}

// Sends the oldest held-back signal to the task again; its delivery stop
// comes at the next point the kernel delivers signals to it.
Status Session::redeliver_deferred(Task& t) {
  if (t.deferred.empty() || t.delivering) return {};
  t.delivering_info = t.deferred.front();
  t.deferred.pop_front();
  t.delivering = t.delivering_info.si_signo;
  if (::syscall(SYS_tgkill, t.tgid, t.tid, t.delivering) != 0 && errno != ESRCH)
    return fail_errno("re-send a held-back signal to task " + std::to_string(t.tid));
  return {};
}

// The task's branch count where it stands, when a counter counts it.
std::optional<uint64_t> Session::branch_count(const Task& t) {
  auto n = progress_->count(t.tid);
  if (n) return *n;
  kLog.info(t.tid, "cannot read its branch count: {}", n.error().describe());
  return std::nullopt;
}

Status Session::on_preempted(Task& t) {
  t.interrupt_sent = false;
  // Asleep in a buffered syscall (blocking.cc): it goes the traced way now,
  // and its next stop is that syscall's entry, where held-back signals go.
  auto taken = take_back_untraced(t, 0);
  if (!taken) return std::unexpected(taken.error());
  if (*taken != TakeBack::kNo) return resume(t, /*to_syscall_exit=*/false);
  if (!t.in_syscall && t.as && t.as->preload) {
    // Never leave a task inside the preload code (see syscallbuf.cc).
    auto out = step_out_of_preload(t);
    if (!out) return std::unexpected(out.error());
    int status = t.pending_status;
    if (!*out && (WIFEXITED(status) || WIFSIGNALED(status))) return handle_exited(t.tid, status);
    if (!*out) return handle_stop(t);
    RRL_TRY(flush_buffer(t));
  }
  if (t.in_syscall && t.deferred.empty()) return resume(t, /*to_syscall_exit=*/true);
  // An arbitrary point: first find what identifies it (progress.cc).
  std::vector<trace::MemWord> progress;
  if (!t.in_syscall) {
    bool spinning = false, at_syscall = false;
    auto words = probe_progress(t, &spinning, &at_syscall);
    if (!words && t.pending_status != 0 && !WIFSTOPPED(t.pending_status)) {
      pid_t tid = t.tid;  // killed from outside while probed: t goes now
      return handle_exited(tid, t.pending_status);
    }
    if (!words) return std::unexpected(words.error());
    // A syscall is next: the task leaves user code there by itself, and held
    // signals are delivered at its entry, a deterministic point.
    if (at_syscall) return resume(t, /*to_syscall_exit=*/false);
    progress = std::move(*words);
    // A task that loops without writing anything waits for another one: its
    // next slices get shorter, so the others get going sooner.
    t.slice_ms = spinning ? std::max<int64_t>(2, t.slice_ms / 4) : kTimeSliceMs;
  }
  if (!t.deferred.empty()) {
    // A held-back signal waited a whole time slice: deliver it here.
    t.delivering_progress = std::move(progress);
    t.delivering_arbitrary = true;
    t.delivering_branches = branch_count(t);
    RRL_TRY(redeliver_deferred(t));
    return resume(t, /*to_syscall_exit=*/t.in_syscall);
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs)
    return ptrace::is_died(regs.error()) ? Status{} : Status(std::unexpected(regs.error()));
  // Stopped before running a single instruction since its last syscall's exit:
  // that exit already is the point where it stands, no SchedEvent needed (and
  // replay could not find this point again by running to it).
  if (!same_registers(*regs, t.boundary_regs))
    RRL_TRY(record(t.tid, trace::SchedEvent{*regs, std::move(progress), branch_count(t)}));
  // Back of the queue: everybody else who is ready goes first.
  t.resume_pending = true;
  t.state = TaskState::kReady;
  ready_.push_back(t.tid);
  return {};
}

Status Session::on_signal(Task& t, int sig) {
  auto si = ptrace::get_siginfo(t.tid);
  if (!si) return ptrace::is_died(si.error()) ? Status{} : Status(std::unexpected(si.error()));
  if (sig == SIGSEGV && si->si_code == SI_KERNEL) {
    auto emulated = try_emulate_rdtsc(t);
    if (!emulated) return std::unexpected(emulated.error());
    if (*emulated) return resume(t, /*to_syscall_exit=*/false);
  }
  // It ended a buffered syscall (blocking.cc): take that back first, and
  // hold the signal back until the traced syscall's entry, so that no
  // handler runs while the task holds a reserved record of the buffer.
  auto taken = take_back_untraced(t, sig);
  if (!taken) return std::unexpected(taken.error());
  if (*taken != TakeBack::kNo) {
    bool redelivered = t.delivering == sig;
    if (redelivered) {
      t.delivering = 0;
      t.delivering_progress.clear();
    }
    if (*taken == TakeBack::kAbortedDropSignal) return resume(t, /*to_syscall_exit=*/false);
    if (redelivered) {
      t.deferred.push_front(t.delivering_info);  // it was the oldest
    } else {
      bool already = false;
      for (const auto& d : t.deferred) already |= d.si_signo == sig;
      if (sig >= SIGRTMIN || !already) t.deferred.push_back(*si);
    }
    return resume(t, /*to_syscall_exit=*/false);
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs)
    return ptrace::is_died(regs.error()) ? Status{} : Status(std::unexpected(regs.error()));
  bool redelivered = t.delivering == sig;
  bool synchronous = is_synchronous(sig, *si);
  if (sig == SIGTRAP && si->si_code == TRAP_TRACE && t.stepped && !redelivered) {
    // A single-step trap of the recorder's own probing that the kernel
    // reported late: not the program's.
    kLog.debug(t.tid, "dropped a stray single-step SIGTRAP at {:#x}", regs->ip());
    return resume(t, /*to_syscall_exit=*/t.in_syscall);
  }
  if (!redelivered && !synchronous && !is_stop_signal(sig) && !t.in_syscall &&
      !same_registers(*regs, t.boundary_regs)) {
    // In the middle of user code: hold it back until the next syscall.
    bool queued = sig >= SIGRTMIN;
    bool already = false;
    for (const auto& d : t.deferred) already |= d.si_signo == sig;
    if (queued || !already) t.deferred.push_back(*si);
    return resume(t, /*to_syscall_exit=*/false);
  }
  if (redelivered) {
    *si = t.delivering_info;
    RRL_TRY(ptrace::set_siginfo(t.tid, *si));
    t.delivering = 0;
  }
  trace::SignalEvent ev;
  ev.signo = sig;
  std::memcpy(ev.siginfo.data(), &*si, sizeof(siginfo_t));
  ev.regs = *regs;
  ev.deterministic = synchronous;
  if (redelivered) {
    ev.progress = std::exchange(t.delivering_progress, {});
    ev.arbitrary = std::exchange(t.delivering_arbitrary, false);
    ev.branches = std::exchange(t.delivering_branches, std::nullopt);
  }
  RRL_TRY(record(t.tid, ev));
  if (!is_stop_signal(sig) && catches(t.tid, sig)) t.handler_returns.push_back(regs->ip());
  return resume(t, /*to_syscall_exit=*/t.in_syscall, sig);
}

}  // namespace rrl::recorder
