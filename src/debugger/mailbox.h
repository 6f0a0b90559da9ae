// The hand-over between gdb's thread (the server) and the replay thread (the
// tracer). ptrace requests must come from the thread that traces, so gdb's
// thread never touches a tracee: it posts jobs, which the replay thread runs
// while the replay stands still, and waits for the stops it publishes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "gdbserver/target.h"

namespace rrl::debugger {

class Mailbox {
 public:
  // gdb's thread: runs `job` on the replay thread and waits for it to finish.
  // False when the replay thread has gone.
  bool run(std::function<void()> job);
  // gdb's thread: the number of stops published so far.
  uint64_t stops_published();
  // gdb's thread: waits for a stop after the `seen`-th, calling `poll`
  // meanwhile; a true `poll` asks the replay to stop (Ctrl-C).
  gdb::StopEvent wait_stop(uint64_t seen, const std::function<bool()>& poll);

  // Replay thread.
  void publish(const gdb::StopEvent& stop);
  // Blocks for the next job; nullopt once closed.
  std::optional<std::function<void()>> take_job();
  bool take_interrupt() { return interrupt_.exchange(false); }
  // The replay thread is gone: everything waiting returns.
  void close(const gdb::StopEvent& final_stop);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> jobs_;
  uint64_t jobs_done_ = 0, jobs_posted_ = 0;
  uint64_t stops_ = 0;
  gdb::StopEvent last_stop_;
  bool closed_ = false;
  std::atomic<bool> interrupt_{false};
};

}  // namespace rrl::debugger
