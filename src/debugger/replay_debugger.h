// The replay side of a debugging session: runs replay sessions on the thread
// that traces the replayed tasks, stops them where gdb wants, and goes back
// in time by replaying to an earlier position.
//
// A position is where a debugger stop happened: an event number, and either
// "before that event runs" (a boundary) or "while that event's task ran
// towards it, with these registers" (see replay_sched.cc for why the first
// time the task is in that state is the right one). Going back means running
// a new replay to an earlier position: reverse-continue first scans forward
// from the start to the current position, noting every breakpoint and
// watchpoint hit, and then runs a replay to the last of them;
// reverse-stepi single-steps from the start of the event up to the current
// position and stops one instruction short.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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

struct Position {
  uint64_t event = 0;
  pid_t rec_tid = 0;
  std::optional<Registers> regs;  // none: before `event` runs
  replayer::DebugStop stop;       // why gdb stopped there
  bool operator==(const Position& o) const;
};

struct DebuggerOptions {
  std::string trace_dir;
  pid_t rec_pid = 0;         // the recorded process to debug; 0: the first
  uint64_t start_event = 1;  // gdb's first stop: before this event
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
  Status reverse_continue();
  Status reverse_step();
  Expected<std::optional<Position>> scan_hits(const Position& to);
  Expected<uint64_t> count_steps(const Position& from, const Position& to);
  Status serve(const gdb::StopEvent& stop);
  Status interactive_stop(replayer::ReplayTask& t, const replayer::DebugStop& stop,
                          std::optional<Registers> regs);
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
  Position target_;        // kSeek, kScan, kStepScan
  uint64_t steps_left_ = 0;  // kSeek: single-steps after reaching target_
  Position current_;       // where gdb is stopped
  std::vector<Position> hits_;   // kScan
  uint64_t steps_taken_ = 0;     // kStepScan
  bool step_scan_done_ = false;
  Request request_ = Request::kNone;
  gdb::ResumeRequest resume_;
  bool resumed_ = false;
  bool points_installed_ = false;
  std::vector<uint64_t> breakpoints_;  // gdb's Z0/Z1
  std::vector<replayer::Watchpoint> watches_;
  std::vector<Position> checkpoints_;  // "checkpoint" monitor command
  std::optional<Position> seek_request_;
  std::optional<Registers> step_scan_stop_;  // kStepScan: stop stepping here
  bool history_start_ = false;          // the stop being served is the start of history
  bool history_start_pending_ = false;  // ... the seek under way ends there
};

}  // namespace rrl::debugger
