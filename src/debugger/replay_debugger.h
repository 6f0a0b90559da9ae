// The replay side of a debugging session: runs replay sessions on the thread
// that traces the replayed tasks, stops them where gdb wants, and goes back
// in time by replaying to an earlier position.
//
// A position is where a debugger stop happened, written so that any later
// replay can find it again without a branch counter and without comparing
// registers (which an untrapped rdtsc makes differ from one replay to the
// next): an event number, and the path the event's task took from the start
// of that event's stretch of user code: "the 3rd arrival at 0x401234, then 2
// single-steps, then the 1st time the watchpoint on 0x404040 fired". An empty
// path means "before the event runs". Every replay runs the same
// instructions, so the same path leads to the same point.
//
// Going back means running a new replay to an earlier position.
// reverse-continue first scans forward from the start to the current
// position, noting every breakpoint and watchpoint hit (as paths from their
// event's start), then runs a replay to the last of them. reverse-stepi
// single-steps from the start of the event up to the current position,
// counting, and stops one instruction short.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/registers.h"
#include "debugger/mailbox.h"
#include "gdbserver/target.h"
#include "replayer/debug_hooks.h"
#include "replayer/replay_session.h"

namespace rrl::debugger {

struct PathStep {
  enum class Kind : uint8_t { kArrive, kSteps, kWatch };
  Kind kind = Kind::kSteps;
  uint64_t addr = 0;   // kArrive: the address; kWatch: the watched address
  uint64_t count = 0;  // arrivals, single-steps or watchpoint triggers
  uint64_t len = 0;    // kWatch
  replayer::WatchKind watch = replayer::WatchKind::kWrite;
};

struct Position {
  uint64_t event = 0;
  std::vector<PathStep> path;  // empty: before `event` runs
  replayer::DebugStop stop;    // why gdb stopped there
};

struct DebuggerOptions {
  std::string trace_dir;
  pid_t rec_pid = 0;         // the recorded process to debug; 0: the first
  uint64_t start_event = 1;    // gdb's first stop: before this event
  uint64_t history_start = 1;  // going back stops here: the process's first event
};

// Makes a fresh replay session of the trace (see replayer.h).
using SessionFactory = std::function<Expected<std::unique_ptr<replayer::ReplaySession>>()>;

class ReplayDebugger : public replayer::DebugHooks {
 public:
  ReplayDebugger(DebuggerOptions options, SessionFactory factory, Mailbox& mailbox);
  // The replay thread's body: returns when gdb is done or the replay failed.
  Status drive();

  // DebugHooks.
  bool wants_step(const replayer::ReplayTask& t) const override;
  Status on_stop(replayer::ReplayTask& t, const replayer::DebugStop& stop) override;
  Status before_event(const trace::Event& ev) override;
  Status after_event(const trace::Event& ev) override;

 private:
  enum class Mode : uint8_t {
    kSeek,         // run to `target_` without stopping, then stop there for gdb
    kInteractive,  // gdb's breakpoints and steps stop the replay
    kScan,         // run to `target_`, noting every breakpoint and watchpoint hit
    kStepScan,     // single-step `target_`'s task from its event's start up to it
  };
  enum class Request : uint8_t { kNone, kReverseContinue, kReverseStep, kSeek, kQuit };

  Status run_session();
  Status serve_exit(int status);
  Status reverse_continue();
  Status reverse_step();
  Expected<std::optional<Position>> scan_hits(std::shared_ptr<replayer::Checkpoint> from,
                                              const Position& to);
  std::shared_ptr<replayer::Checkpoint> checkpoint_before(const Position& p) const;
  void maybe_checkpoint(const trace::Event& ev);
  Expected<uint64_t> count_steps(const Position& to);
  Status walk(const trace::Event& ev, const std::vector<PathStep>& path);
  Status walk_stepping(const trace::Event& ev, const std::vector<PathStep>& path);
  Status serve(const gdb::StopEvent& stop);
  Status interactive_stop(replayer::ReplayTask& t, const Position& at);
  Position extend(const PathStep& step) const;
  void seek(Position to, bool history_start = false);
  Status install_user_points();
  Status at_target(const trace::Event& ev);
  gdb::StopEvent to_gdb(const replayer::ReplayTask& t, const replayer::DebugStop& stop) const;
  Error abandon(Request why);
  void exec_job_handlers();

  // Jobs that gdb's thread runs here (see replay_target.cc).
  friend class ReplayTarget;

  DebuggerOptions options_;
  SessionFactory factory_;
  Mailbox& mailbox_;
  std::unique_ptr<replayer::ReplaySession> session_;
  Mode mode_ = Mode::kSeek;
  Position target_;         // kSeek, kScan, kStepScan
  Position current_;        // where gdb is stopped
  uint64_t current_tid_ = 0;
  std::vector<Position> hits_;  // kScan
  uint64_t steps_taken_ = 0;    // kStepScan
  bool stretch_empty_ = false;  // kStepScan: the event ran no instructions
  // Breakpoint arrivals and watchpoint triggers since the event started or
  // gdb last resumed, whichever came later; by address.
  std::map<uint64_t, uint64_t> arrivals_, triggers_;
  uint64_t ignore_arrival_ = 0;  // kScan: the arrival that is the scan's end
  Request request_ = Request::kNone;
  gdb::ResumeRequest resume_;
  bool resumed_ = false;
  bool points_installed_ = false;
  std::vector<uint64_t> breakpoints_;  // gdb's Z0/Z1
  std::vector<replayer::Watchpoint> watches_;
  std::vector<Position> checkpoints_;  // "checkpoint" monitor command
  std::optional<Position> seek_request_;
  bool history_start_ = false;          // the stop being served is the start of history
  bool history_start_pending_ = false;  // ... the seek under way ends there
  bool walking_watch_ = false;          // walk() waits for a watchpoint trigger
  uint64_t fired_ = 0;                  // watchpoint triggers, for walk_stepping()
  // Frozen copies of the replay, by the event they start at (see checkpoint.cc).
  std::map<uint64_t, std::shared_ptr<replayer::Checkpoint>> checkpoints_at_;
  // run_session() starts from here when `forced_start_` (nullptr: the start).
  std::shared_ptr<replayer::Checkpoint> start_from_;
  bool forced_start_ = false;
};

}  // namespace rrl::debugger
