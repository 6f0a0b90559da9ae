#include "recorder/session.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>

#include "common/log.h"
#include "common/proc_task.h"
#include "common/ptrace.h"
#include "common/syscalls.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("recorder");

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // not _COARSE: chaos slices are 1 ms
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int shell_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

int64_t monotonic_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // not _COARSE: chaos slices are 1 ms
  return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Session::Session(trace::TraceWriter& writer, pid_t initial, bool syscall_buffer,
                 std::unique_ptr<progress::Source> progress, std::optional<uint64_t> chaos_seed)
    : writer_(writer),
      initial_(initial),
      syscall_buffer_(syscall_buffer),
      progress_(std::move(progress)) {
  if (chaos_seed) chaos_.emplace(*chaos_seed);
  Task& t = add_task(initial, initial);
  t.as = std::make_shared<AddressSpace>();
  // The initial task was attached by PTRACE_SEIZE while running: no start stop.
  t.first_stop = false;
  t.announced = true;
  t.state = TaskState::kRunning;
  running_ = &t;
  for (int fd = 1; fd <= 2; ++fd) {
    struct stat st;
    if (::fstat(fd, &st) == 0)
      std_files_[fd - 1] = {st.st_dev, st.st_ino};
    else
      std_files_[fd - 1] = {~0ULL, ~0ULL};
  }
}

Task& Session::add_task(pid_t tid, pid_t tgid) {
  auto& slot = tasks_[tid];
  if (!slot) {
    slot = std::make_unique<Task>();
    slot->tid = tid;
    slot->tgid = tgid;
    slot->state = TaskState::kInKernel;  // not stopped until it reports
    // Counting starts before its first instruction (a new thread, a child) or
    // is restarted at its first progress event (the initial task's exec).
    if (auto st = progress_->attach(tid); !st)
      kLog.info(tid, "no branch count for this task: {}", st.error().describe());
  }
  return *slot;
}

Status Session::run() {
  while (!tasks_.empty()) {
    if (interrupted()) return fail("recording interrupted");
    if (!running_ && !exclusive_) {
      if (Task* t = pick_ready()) {
        RRL_TRY(handle_stop(*t));
        continue;
      }
    }
    if (exclusive_) {
      if (!keep_exclusive()) continue;  // released: the others' turn
    } else {
      enforce_time_slice();
    }
    RRL_TRY(wait_for_stop(/*block=*/true));
  }
  return {};
}

// An exclusive syscall (an mmap, say) is over in microseconds, but one may
// wait for another task (a file system served by a recorded process, a
// userfaultfd handler): after a while, others may run. True while the
// scheduler is to wait for the exclusive task (the alarm is set for it).
bool Session::keep_exclusive() {
  constexpr int64_t kExclusiveUs = 100000;
  if (ready_.empty()) {
    set_alarm(0);
    return true;
  }
  if (monotonic_us() - exclusive_since_us_ < kExclusiveUs) {
    set_alarm(exclusive_since_us_ + kExclusiveUs);
    return true;
  }
  kLog.info(exclusive_->tid, "still in syscall {} after {} ms: other tasks may run",
            syscalls::name(exclusive_->entry_nr), kExclusiveUs / 1000);
  exclusive_ = nullptr;
  return false;
}

// Time slices. A task that runs user code without any stop must not starve a
// task that is ready: after its slice it is interrupted (PTRACE_INTERRUPT)
// and goes to the back of the queue. A task asleep in a buffered syscall
// counts as running user code; it is found out much sooner, by polling
// (blocking.cc). The SIGALRM timer only exists to wake the scheduler out of
// waitpid.
void Session::enforce_time_slice() {
  bool others_wait = running_ && (!ready_.empty() || !running_->deferred.empty());
  if (!others_wait) {
    set_alarm(0);
    return;
  }
  int64_t now = monotonic_us();
  if (running_->interrupt_sent) {
    // The interrupt's stop has not come. It can be lost to a stop that came
    // first (a syscall entry); then the task may go to sleep in a buffered
    // syscall with everybody else waiting for it: interrupt it again.
    constexpr int64_t kInterruptRetryUs = 20000;
    if (now - running_->interrupt_sent_us >= kInterruptRetryUs) {
      kLog.debug(running_->tid, "no stop for the interrupt: sent again");
      (void)ptrace::interrupt(running_->tid);
      running_->interrupt_sent_us = now;
    }
    set_alarm(running_->interrupt_sent_us + kInterruptRetryUs);
    return;
  }
  int64_t slice_end = running_since_us_ + running_slice_ms_ * 1000;
  if (now >= slice_end || blocked_in_untraced(*running_, now)) {
    set_alarm(0);
    if (ptrace::interrupt(running_->tid)) {
      running_->interrupt_sent = true;
      running_->interrupt_sent_us = now;
    }
    return;
  }
  int64_t wake = slice_end;
  if (running_->as && running_->as->preload) wake = std::min(wake, next_block_check_us_);
  set_alarm(wake);
}

// Arms SIGALRM for `deadline_us` (monotonic), or disarms it with 0; a timer
// already set for that deadline is left alone (this runs at every stop).
// The timer repeats every kAlarmRepeatUs after the deadline: an alarm that
// goes off before the scheduler is inside waitpid would otherwise be lost.
void Session::set_alarm(int64_t deadline_us) {
  constexpr int64_t kAlarmRepeatUs = 1000;
  if (take_alarm()) alarm_deadline_us_ = -1;  // it went off: it repeats, re-arm or disarm it
  if (deadline_us == alarm_deadline_us_) return;
  alarm_deadline_us_ = deadline_us;
  itimerval timer{};
  if (deadline_us != 0) {
    int64_t left_us = std::max<int64_t>(1, deadline_us - monotonic_us());
    timer.it_value.tv_sec = left_us / 1000000;
    timer.it_value.tv_usec = static_cast<suseconds_t>(left_us % 1000000);
    timer.it_interval.tv_usec = kAlarmRepeatUs;
  }
  ::setitimer(ITIMER_REAL, &timer, nullptr);
}

bool Session::eligible(pid_t tid) const {
  auto it = tasks_.find(tid);
  return it != tasks_.end() && it->second->state == TaskState::kReady && it->second->announced &&
         it->second->vfork_child == 0;
}

Task* Session::pick_ready() {
  // A task whose creation is not in the trace yet (its start stop can come
  // before its parent's clone event) waits for it; so does a vfork parent.
  std::erase_if(ready_, [&](pid_t tid) {
    auto it = tasks_.find(tid);
    return it == tasks_.end() || it->second->state != TaskState::kReady;
  });
  std::vector<size_t> candidates;
  for (size_t i = 0; i < ready_.size(); ++i)
    if (eligible(ready_[i])) candidates.push_back(i);
  if (candidates.empty()) return nullptr;
  // The stop that ended a stretch of user code is at the front and always
  // goes first; otherwise the order is free, and chaos mode draws it.
  size_t chosen = candidates.front();
  if (chaos_ && ready_[chosen] != urgent_) chosen = candidates[chaos_->pick(candidates.size())];
  pid_t tid = ready_[chosen];
  ready_.erase(ready_.begin() + static_cast<long>(chosen));
  if (tid == urgent_) urgent_ = 0;
  return tasks_[tid].get();
}

// Chaos mode: a task at its last event (a syscall exit) lets the ready tasks
// go first, as a preempted one does. True when it was put in the queue.
bool Session::give_way(Task& t) {
  if (!chaos_) return false;
  bool others = std::any_of(ready_.begin(), ready_.end(),
                            [&](pid_t tid) { return tid != t.tid && eligible(tid); });
  if (!others || !chaos_->yield_after_syscall()) return false;
  t.resume_pending = true;
  t.state = TaskState::kReady;
  ready_.push_back(t.tid);
  return true;
}

Status Session::wait_for_stop(bool block) {
  int status = 0;
  pid_t tid = ::waitpid(-1, &status, __WALL | (block ? 0 : WNOHANG));
  if (tid == 0) return {};
  if (tid < 0) {
    if (errno == EINTR) return {};
    if (errno == ECHILD) {
      // Every tracee is gone, including ones whose exit we never saw.
      tasks_.clear();
      ready_.clear();
      running_ = exclusive_ = nullptr;
      return {};
    }
    return fail_errno("waitpid");
  }
  if (WIFEXITED(status) || WIFSIGNALED(status)) return handle_exited(tid, status);
  auto it = tasks_.find(tid);
  Task& t = it != tasks_.end() ? *it->second : add_task(tid, read_tgid(tid));
  // The end of an exclusive syscall is as urgent as the end of user code.
  bool ended_user_code = running_ == &t || exclusive_ == &t;
  if (ended_user_code) running_ = exclusive_ = nullptr;
  t.pending_status = status;
  // A task waiting for its turn reports again only when something (SIGKILL,
  // an exit_group of another thread) took it out of its stop: that new stop
  // is what to handle now, not the old resumption.
  if (t.state == TaskState::kReady) t.resume_pending = false;
  if (t.state != TaskState::kReady) {
    t.state = TaskState::kReady;
    // The stop that ends a stretch of user code is handled (and recorded) before
    // anything else, so events keep the order in which user code ran.
    if (ended_user_code) {
      ready_.push_front(tid);
      urgent_ = tid;
    } else {
      ready_.push_back(tid);
      if (running_) poll_block_now(monotonic_us());
    }
  }
  return {};
}

void Session::release_vfork_parent(Task& child) {
  auto it = tasks_.find(std::exchange(child.vfork_parent, 0));
  if (it != tasks_.end()) it->second->vfork_child = 0;
}

Status Session::handle_exited(pid_t tid, int status) {
  kLog.debug(tid, "exited with wait status {:#x}", status);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return {};
  if (running_ == it->second.get()) running_ = nullptr;
  if (exclusive_ == it->second.get()) exclusive_ = nullptr;
  if (!it->second->exit_recorded) RRL_TRY(record(tid, trace::ExitEvent{status}));
  release_vfork_parent(*it->second);
  progress_->detach(tid);
  if (tid == initial_) exit_status_ = shell_status(status);
  std::erase(ready_, tid);
  tasks_.erase(it);
  return {};
}

Status Session::handle_stop(Task& t) {
  // Whatever stopped the task, the syscalls it buffered since its last stop
  // come first in the trace (they ran before the stop).
  RRL_TRY(flush_buffer(t));
  await_buffer_read(t, /*always=*/false);
  if (t.resume_pending) {
    t.resume_pending = false;
    return resume(t, /*to_syscall_exit=*/t.in_syscall);
  }
  int status = t.pending_status;
  int sig = WSTOPSIG(status);
  int event = status >> 16;
  if (sig == (SIGTRAP | 0x80)) return t.in_syscall ? on_syscall_exit(t) : on_syscall_entry(t);
  if (event == PTRACE_EVENT_SECCOMP) return on_syscall_entry(t);
  if (event != 0) return on_ptrace_event(t, event);
  return on_signal(t, sig);
}

Status Session::resume(Task& t, bool to_syscall_exit, int sig) {
  // A task that was single-stepped (progress.cc, syscallbuf.cc) must not go
  // on with a trap flag of its own: it would die of a SIGTRAP.
  if (std::exchange(t.trap_flag_risk, false)) {
    if (auto st = clear_trap_flag(t.tid); !st && !ptrace::is_died(st.error())) return st;
  }
  auto st = to_syscall_exit ? ptrace::syscall(t.tid, sig) : ptrace::cont(t.tid, sig);
  if (!st) {
    // A task killed under our feet reports its exit through waitpid.
    if (ptrace::is_died(st.error())) {
      t.state = TaskState::kInKernel;
      return {};
    }
    return st;
  }
  if (to_syscall_exit) {
    t.state = TaskState::kInKernel;
  } else {
    t.state = TaskState::kRunning;
    running_ = &t;
    running_since_us_ = monotonic_us();
    running_slice_ms_ = chaos_ ? std::min(t.slice_ms, chaos_->slice_ms()) : t.slice_ms;
    start_block_polling(running_since_us_);
  }
  return {};
}

// Syscall entries get an event only when needed. A task's user code up to a
// syscall runs before whatever runs after its entry stop, but the syscall's
// event is written at its exit, possibly after other tasks' events. So when an
// event of another task is about to be written while a task sits between entry
// and exit, a SyscallEntryEvent for that task goes first. Single-threaded
// programs never pay for it.
//
// The task's own pending entry needs a marker too when another task entered
// a syscall after it (that task's user code ran after this entry): without
// it, replay would run the other task's code first.
Status Session::record(pid_t tid, trace::EventData data) {
  RRL_TRY(write_entry_markers(tid));
  return write_event(tid, std::move(data));
}

Status Session::write_entry_markers(pid_t tid) {
  auto pending = [&](pid_t p) {
    auto it = tasks_.find(p);
    return it != tasks_.end() && it->second->entry_marker_pending;
  };
  while (!pending_entries_.empty()) {
    pid_t other = pending_entries_.front();
    pending_entries_.pop_front();
    if (!pending(other)) continue;
    if (other == tid && std::none_of(pending_entries_.begin(), pending_entries_.end(),
                                     [&](pid_t p) { return p != tid && pending(p); })) {
      tasks_[other]->entry_marker_pending = false;
      continue;  // its own next event says it reached the syscall
    }
    tasks_[other]->entry_marker_pending = false;
    RRL_TRY(write_event(other, trace::SyscallEntryEvent{tasks_[other]->entry_nr}));
  }
  return {};
}

Status Session::write_event(pid_t tid, trace::EventData data) {
  trace::Event ev{next_event_++, tid, std::move(data)};
  kLog.debug(tid, "event {} {}", ev.number, trace::kind_name(ev.data));
  RRL_TRY(writer_.append(ev));
  if (progress::resets_progress(ev.data)) RRL_TRY(progress_->reset(tid));
  return flush_now_and_then();
}

// A buffered syscall straight from its record (syscallbuf.cc): the same
// event as record() of a BufferedSyscallEvent, without building one.
Status Session::record_buffered_view(pid_t tid, const trace::BufferedSyscallView& e) {
  RRL_TRY(write_entry_markers(tid));
  uint64_t number = next_event_++;
  kLog.debug(tid, "event {} buffered_syscall", number);
  RRL_TRY(writer_.append_buffered(number, tid, e));
  return flush_now_and_then();
}

// Flush often enough that a recording killed with SIGKILL keeps its events.
Status Session::flush_now_and_then() {
  int64_t now = monotonic_ms();
  if (now - last_flush_ms_ > 250) {
    last_flush_ms_ = now;
    RRL_TRY(writer_.flush_soon());
  }
  return {};
}

void Session::kill_all() {
  for (auto& [tid, t] : tasks_) ::kill(tid, SIGKILL);
  // Reap everything. A task parked in a ptrace stop (an exit stop, say) is let
  // go so that it can die; the deadline guards against a task that never goes.
  int64_t deadline = monotonic_ms() + 5000;
  while (!tasks_.empty() && monotonic_ms() < deadline) {
    int status;
    pid_t tid = ::waitpid(-1, &status, __WALL | WNOHANG);
    if (tid < 0 && errno == ECHILD) break;
    if (tid <= 0) {
      for (auto& [other, t] : tasks_) (void)ptrace::cont(other);
      ::usleep(1000);
      continue;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status))
      tasks_.erase(tid);
    else
      (void)ptrace::cont(tid);
  }
  tasks_.clear();
  ready_.clear();
  running_ = exclusive_ = nullptr;
}

}  // namespace rrl::recorder
