// Buffered syscalls that block.
//
// The preload code makes futex, reads and writes of pipes and sockets, poll,
// accept, ... without a ptrace stop, like the syscalls that cannot block. Any
// of them may sleep in the kernel for as long as it likes. The scheduler
// lets one task run user code at a time, and a task asleep in the untraced
// syscall still counts as running: it holds a record of the address space's
// buffer that it has reserved but not yet written, so no other task of that
// address space may run user code until it is out. Left alone it would hold
// everybody up until the end of its time slice, or forever when the task it
// waits for is one that is waiting to run.
//
// Finding out. rr learns that a buffered syscall blocked from a perf event
// counting context switches; an ordinary user cannot open one here. Instead,
// while the running task keeps others waiting, the scheduler looks at
// /proc/TID/syscall (which the tracer may read): a task asleep in a syscall
// shows its number and its ip, and the ip of the untraced syscall
// instruction is known. The first look comes kFirstCheckUs after the task
// was resumed, or at once when another task becomes ready, then at growing
// gaps up to kMaxCheckGapUs, so a task that blocks at once is found within
// tens of microseconds, and one that computes costs a look per millisecond,
// and only while somebody waits. Reads of pipes and sockets first try
// without waiting (preload.c), so most never need taking back.
//
// Taking it back. The recorder interrupts the task (PTRACE_INTERRUPT); the
// kernel ends the sleeping syscall with -ERESTART* (or -EINTR for some, like
// epoll_wait), which means it had no effect, and the task stops right after
// the untraced syscall instruction, before the kernel's restart logic has
// run. The recorder makes it return RRL_SYSCALL_ABORTED instead, with
// orig_rax = -1 so that the kernel does not restart it, and records that as
// an aborted BufferedSyscallEvent. The preload code drops its reserved record
// and the stub makes the same syscall from its own, traced, instruction: an
// ordinary traced syscall, which blocks in the kernel without holding anyone
// up. Replay answers the untraced syscall with RRL_SYSCALL_ABORTED from the
// trace, and decides nothing.
//
// Races. The syscall may finish between the look and the interrupt; then the
// task stops wherever it is and that is an ordinary preemption (signals.cc,
// on_preempted). A signal that comes for a task asleep in the untraced
// syscall ends it the same way: the syscall is taken back first, and the
// signal is held back until the traced syscall's entry, where it is sent
// again (so that a handler never runs while a record is reserved). A write
// to a broken pipe raises SIGPIPE along with -EPIPE: that call is taken back
// too and the signal dropped; the traced call raises it again.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "common/log.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "preload/blob.h"
#include "recorder/session.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("syscallbuf");

constexpr int64_t kFirstCheckUs = 20;
constexpr int64_t kMaxCheckGapUs = 1000;

// Results with which the kernel ends a syscall that a signal or a ptrace
// stop interrupted before it had any effect.
bool ended_by_stop(int64_t r) {
  constexpr int64_t kERestartSys = 512, kERestartNoIntr = 513, kERestartNoHand = 514,
                    kERestartBlock = 516;
  return r == -EINTR || r == -kERestartSys || r == -kERestartNoIntr || r == -kERestartNoHand ||
         r == -kERestartBlock;
}

// The number and ip of the syscall the task sleeps in (/proc/TID/syscall:
// "NR ARG1 ... ARG6 SP PC"), or nullopt when it is running or not in one.
struct SleepingIn {
  int64_t nr = -1;
  uint64_t pc = 0;
};
std::optional<SleepingIn> sleeping_in(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/syscall", tid);
  ScopedFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  char buf[256];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')) return std::nullopt;  // "running"
  SleepingIn s;
  s.nr = std::strtoll(buf, nullptr, 10);
  const char* last = std::strrchr(buf, ' ');
  if (!last) return std::nullopt;
  s.pc = std::strtoull(last + 1, nullptr, 16);
  return s;
}

}  // namespace

void Session::start_block_polling(int64_t now_us) {
  block_check_gap_us_ = kFirstCheckUs / 2;
  next_block_check_us_ = now_us + kFirstCheckUs;
}

// Another task became ready: the running one may well be waiting for it
// (a pipe's other end, a futex's waker), so look now and soon again.
void Session::poll_block_now(int64_t now_us) {
  block_check_gap_us_ = kFirstCheckUs / 2;
  next_block_check_us_ = now_us;
}

// Whether it is time to look at the running task and it is asleep in the
// preload code's untraced syscall.
bool Session::blocked_in_untraced(const Task& t, int64_t now_us) {
  if (!t.as || !t.as->preload || now_us < next_block_check_us_) return false;
  block_check_gap_us_ = std::min(block_check_gap_us_ * 2, kMaxCheckGapUs);
  next_block_check_us_ = now_us + block_check_gap_us_;
  auto s = sleeping_in(t.tid);
  if (!s || s->nr < 0 || s->pc != preload::untraced_end_address()) return false;
  kLog.debug(t.tid, "asleep in buffered syscall {}: taking it back", s->nr);
  return true;
}

// Makes the untraced syscall `nr` that t is at (regs: stopped right after the
// instruction, or right before it) return RRL_SYSCALL_ABORTED, and records
// that. The task's buffered records so far come first.
Status Session::abort_untraced(Task& t, Registers& regs, int64_t nr) {
  RRL_TRY(flush_buffer(t));
  trace::BufferedSyscallEvent ev;
  ev.syscallno = nr;
  for (int i = 0; i < 6; ++i) ev.args[static_cast<size_t>(i)] = regs.arg(i);
  ev.result = RRL_SYSCALL_ABORTED;
  ev.flags = trace::BufferedSyscallEvent::kAborted;
  regs.set_ip(preload::untraced_end_address());
  regs.r.orig_rax = static_cast<uint64_t>(-1);  // no restart by the kernel
  regs.r.rax = static_cast<uint64_t>(static_cast<int64_t>(RRL_SYSCALL_ABORTED));
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  return record(t.tid, std::move(ev));
}

// At a stop of t outside any traced syscall (an interrupt, or the delivery
// of `sig`, 0 for none): takes back the untraced syscall the stop ended.
Expected<Session::TakeBack> Session::take_back_untraced(Task& t, int sig) {
  if (t.in_syscall || !t.as || !t.as->preload) return TakeBack::kNo;
  auto regs = ptrace::get_regs(t.tid);
  if (!regs)
    return ptrace::is_died(regs.error()) ? Expected<TakeBack>(TakeBack::kNo)
                                         : std::unexpected(regs.error());
  auto nr = static_cast<int64_t>(regs->r.orig_rax);
  if (regs->ip() != preload::untraced_end_address() || nr < 0) return TakeBack::kNo;
  int64_t result = regs->result();
  bool broken_pipe = sig == SIGPIPE && result == -EPIPE;
  if (!ended_by_stop(result) && !broken_pipe) return TakeBack::kNo;
  kLog.debug(t.tid, "buffered syscall {} ended by a stop ({}): taken back", nr, result);
  RRL_TRY(abort_untraced(t, *regs, nr));
  return broken_pipe ? TakeBack::kAbortedDropSignal : TakeBack::kAborted;
}

}  // namespace rrl::recorder
