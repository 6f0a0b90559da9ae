// Progress sources: how far a task has run, beyond its registers.
//
// An arbitrary point (a preemption, an asynchronous signal's delivery) has to
// be found again in replay. Every trace identifies one by the task's
// registers and the memory words its loop changes (recorder/progress.cc);
// that works on every machine. Where the CPU has a hardware counter of
// retired conditional branches that perf_event_open can program, the same
// points also carry a branch count, and replay lets the counter interrupt the
// task a few branches before the point instead of stopping at every pass
// through its ip. Both are a Source; the recorder and the replayer only talk
// to this interface.
//
// Counts are relative to the task's last *progress event* (resets_progress):
// an event at which the task stands still in both the recording and the
// replay. The recorder and the replayer reset the count there, so no count
// depends on how the task got started, on exec, or on a checkpoint.
//
// The machines rr-like is developed on have no such counter (perf_event_open
// of any hardware event says ENOENT); BranchCounter is written from the
// kernel's documented interface and is untested there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "trace/events.h"

namespace rrl::progress {

enum class Kind : uint8_t { kSoftware = 0, kBranchCounter = 1 };

std::string kind_name(Kind kind);

// The signal a counter interrupt arrives as (replay suppresses it).
constexpr int kInterruptSignal = 16;  // SIGSTKFLT: unused by programs

class Source {
 public:
  virtual ~Source() = default;
  virtual Kind kind() const = 0;
  // Whether count() gives numbers.
  virtual bool counts() const = 0;
  // Starts following a stopped task; `start` is its count so far (a task
  // restored from a checkpoint goes on from the count it had).
  virtual Status attach(pid_t tid, uint64_t start = 0) = 0;
  virtual void detach(pid_t tid) = 0;
  // Branches since the task's last progress event; nullopt when not counting.
  virtual Expected<std::optional<uint64_t>> count(pid_t tid) = 0;
  // At a progress event of the (stopped) task.
  virtual Status reset(pid_t tid) = 0;
  // Replay: interrupt the task (signal kInterruptSignal) after `branches`
  // more branches. False when this source cannot.
  virtual Expected<bool> arm(pid_t tid, uint64_t branches) = 0;
  virtual void disarm(pid_t tid) = 0;
};

// Registers and memory words only (every machine).
std::unique_ptr<Source> software_source();
// The hardware counter, or why there is none here.
Expected<std::unique_ptr<Source>> branch_counter_source();

// What RR_LIKE_PROGRESS asks for: "auto" (unset: the counter when this
// machine has one, else software), "software" or "branches" (an error when
// there is no counter).
Expected<std::unique_ptr<Source>> open_source(const char* request);

// The events at which a task's count restarts: those written while the task
// stands at a ptrace stop that replay reproduces exactly at the same point.
bool resets_progress(const trace::EventData& data);

// Replay: how many branches before the recorded count the interrupt is
// asked for (the counter's interrupt comes a little late: "skid").
constexpr uint64_t kSkidMargin = 100;

}  // namespace rrl::progress
