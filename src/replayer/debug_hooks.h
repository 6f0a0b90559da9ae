// What a debugger sees of a replay, and how it steers it.
//
// The replay session stays in charge of the schedule: it runs the trace's
// events in order. A debugger attached through DebugHooks only learns about
// stops (a breakpoint or watchpoint hit, a finished single-step, a signal
// about to be delivered) and about event boundaries. Each call blocks for as
// long as the debugger wants the replay to stand still (gdb reading memory and
// registers), then returns; an error return abandons the session (the
// debugger went back in time, or went away).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/error.h"
#include "replayer/breakpoints.h"
#include "trace/events.h"

namespace rrl::replayer {

struct ReplayTask;

struct DebugStop {
  enum class Kind : uint8_t { kBreakpoint, kWatchpoint, kStep, kSignal, kPosition };
  Kind kind = Kind::kStep;
  uint64_t addr = 0;  // breakpoint or watched address
  WatchKind watch = WatchKind::kWrite;
  int signal = 0;
  bool at_boundary = false;  // reported between events, not inside one
};

class DebugHooks {
 public:
  virtual ~DebugHooks() = default;
  // Whether `t` runs one instruction at a time on its next resume.
  virtual bool wants_step(const ReplayTask& t) const = 0;
  // A debugged task stopped.
  virtual Status on_stop(ReplayTask& t, const DebugStop& stop) = 0;
  // Around every event: `ev` is about to run / has run.
  virtual Status before_event(const trace::Event& ev) = 0;
  virtual Status after_event(const trace::Event& ev) = 0;
};

}  // namespace rrl::replayer
