// Driving replays for gdb, forwards and backwards: see replay_debugger.h.
//
// Going back is going forward again from an earlier point. Every new replay
// here starts from the beginning of the trace and runs without stopping (no
// breakpoints inserted) until it reaches its target position; only then does
// it become interactive. Reverse-continue needs two such runs: one that scans
// up to where gdb is now and notes each breakpoint or watchpoint hit, and one
// to the last hit. A watchpoint is reported before the write that triggered
// it (gdb then shows the value going back to what it was), which takes a
// third, single-stepping run over that event to find the instruction before.
#include "debugger/replay_debugger.h"

#include <signal.h>

#include "common/log.h"
#include "common/ptrace.h"

namespace rrl::debugger {

using replayer::DebugStop;
using replayer::ReplayTask;

namespace {

const LogChannel kLog("debugger");

// The sys_errno of the error that unwinds a replay gdb is done with.
constexpr int kAbandoned = -1000;

// Signals gdb lets through without stopping by default.
bool quiet_signal(int sig) {
  return sig == SIGALRM || sig == SIGCHLD || sig == SIGWINCH || sig == SIGURG || sig == SIGPROF ||
         sig == SIGVTALRM || sig == SIGIO;
}

}  // namespace

bool Position::operator==(const Position& o) const {
  if (event != o.event || regs.has_value() != o.regs.has_value()) return false;
  return !regs || (rec_tid == o.rec_tid && replayer::same_state(*regs, *o.regs));
}

ReplayDebugger::ReplayDebugger(DebuggerOptions options, SessionFactory factory, Mailbox& mailbox)
    : options_(std::move(options)), factory_(std::move(factory)), mailbox_(mailbox) {}

Error ReplayDebugger::abandon(Request why) {
  request_ = why;
  return Error{"replay abandoned", kAbandoned};
}

Status ReplayDebugger::drive() {
  target_ = Position{options_.start_event, 0, std::nullopt,
                     DebugStop{DebugStop::Kind::kSignal, 0, {}, SIGTRAP, true}};
  mode_ = Mode::kSeek;
  while (true) {
    request_ = Request::kNone;
    auto st = run_session();
    if (!st && st.error().sys_errno != kAbandoned) return st;
    switch (request_) {
      case Request::kQuit:
        return {};
      case Request::kReverseContinue:
        RRL_TRY(reverse_continue());
        break;
      case Request::kReverseStep:
        RRL_TRY(reverse_step());
        break;
      case Request::kSeek:
        target_ = *seek_request_;
        mode_ = Mode::kSeek;
        break;
      case Request::kNone:
        return fail("the replay ended without reaching the position gdb asked for");
    }
  }
}

// One replay, from the start of the trace to its end or until abandoned.
Status ReplayDebugger::run_session() {
  session_.reset();  // its tasks go first
  auto made = factory_();
  if (!made) return std::unexpected(made.error());
  session_ = std::move(*made);
  session_->attach_debugger(this, options_.rec_pid);
  points_installed_ = false;
  while (true) {
    auto more = session_->step_event();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
  }
  if (mode_ != Mode::kInteractive) return {};  // the target was past the end
  gdb::StopEvent exit;
  int status = session_->exit_status();
  exit.kind = WIFSIGNALED(status) ? gdb::StopKind::kTerminated : gdb::StopKind::kExited;
  exit.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  exit.thread = gdb::ThreadRef{options_.rec_pid, options_.rec_pid};
  current_ = Position{session_->current_event(), 0, std::nullopt, {}};
  RRL_TRY(serve(exit));
  // Forward from the end: there is nothing more to run.
  while (request_ == Request::kNone) RRL_TRY(serve(exit));
  return std::unexpected(abandon(request_));
}

bool ReplayDebugger::wants_step(const ReplayTask& t) const {
  return mode_ == Mode::kInteractive && resume_.action == gdb::ResumeAction::kStep &&
         (resume_.thread.tid <= 0 || resume_.thread.tid == t.rec_tid);
}

Status ReplayDebugger::before_event(const trace::Event& ev) {
  if (options_.rec_pid == 0) {
    options_.rec_pid = ev.tid;  // the first process
    session_->attach_debugger(this, ev.tid);
  }
  if (mode_ != Mode::kInteractive && ev.number == target_.event) return at_target(ev);
  return {};
}

Status ReplayDebugger::after_event(const trace::Event& ev) {
  if (!points_installed_ && (mode_ == Mode::kScan || mode_ == Mode::kInteractive) &&
      !session_->debugged_tasks().empty())
    RRL_TRY(install_user_points());
  if (mode_ != Mode::kInteractive || !mailbox_.take_interrupt()) return {};
  ReplayTask* t = session_->find_task(ev.tid);
  if (!t || !session_->is_debugged(*t)) {
    auto tasks = session_->debugged_tasks();
    if (tasks.empty()) return {};
    t = tasks.front();
  }
  return interactive_stop(*t, DebugStop{DebugStop::Kind::kSignal, 0, {}, SIGINT, true},
                          std::nullopt);
}

// The replay reached the event of `target_`: what now depends on the mode.
Status ReplayDebugger::at_target(const trace::Event& ev) {
  if (target_.regs) RRL_TRY(session_->run_to_state(ev, *target_.regs));
  if (mode_ == Mode::kScan) return std::unexpected(abandon(Request::kNone));
  if (mode_ == Mode::kStepScan) {
    steps_taken_ = 0;
    // An mmap's contents or a code patch: the task ran nothing for these.
    bool no_stretch = std::holds_alternative<trace::MmapEvent>(ev.data) ||
                      std::holds_alternative<trace::PatchEvent>(ev.data);
    while (!no_stretch) {
      ReplayTask* t = session_->find_task(ev.tid);
      if (!t) return fail("the task to step back in is gone");
      auto regs = session_->task_registers(*t);
      if (!regs) return std::unexpected(regs.error());
      if (step_scan_stop_ && replayer::same_state(*regs, *step_scan_stop_)) break;
      auto plain = session_->single_step(ev);
      if (!plain) return std::unexpected(plain.error());
      steps_taken_++;
      if (!*plain) break;  // reached the event's syscall: the end of its stretch
    }
    return std::unexpected(abandon(Request::kNone));
  }
  // kSeek: single-steps to take after the target, then gdb's turn.
  uint64_t steps = steps_left_;
  for (; steps_left_ > 0; --steps_left_) {
    auto plain = session_->single_step(ev);
    if (!plain) return std::unexpected(plain.error());
    if (!*plain) break;
  }
  mode_ = Mode::kInteractive;
  RRL_TRY(install_user_points());
  ReplayTask* t = session_->find_task(ev.tid);
  if (!t) return fail("the task gdb stopped in is gone");
  auto regs = session_->task_registers(*t);
  if (!regs) return std::unexpected(regs.error());
  DebugStop stop = target_.stop;
  bool boundary = !target_.regs && steps == 0;
  history_start_ = std::exchange(history_start_pending_, false);
  return interactive_stop(*t, stop, boundary ? std::nullopt : std::optional<Registers>(*regs));
}

Status ReplayDebugger::install_user_points() {
  points_installed_ = true;
  for (uint64_t addr : breakpoints_)
    if (auto st = session_->add_breakpoint(addr); !st)
      kLog.info(0, "breakpoint at {:#x} not inserted: {}", addr, st.error().describe());
  for (const auto& w : watches_) RRL_TRY(session_->watchpoints().add(w.addr, w.len, w.kind));
  return {};
}

Status ReplayDebugger::on_stop(ReplayTask& t, const DebugStop& stop) {
  switch (mode_) {
    case Mode::kSeek:
    case Mode::kStepScan:
      return {};
    case Mode::kScan: {
      if (stop.kind != DebugStop::Kind::kBreakpoint && stop.kind != DebugStop::Kind::kWatchpoint)
        return {};
      auto regs = session_->task_registers(t);
      if (!regs) return std::unexpected(regs.error());
      Position hit{session_->current_event(), t.rec_tid, *regs, stop};
      if (!(hit == target_)) hits_.push_back(hit);
      return {};
    }
    case Mode::kInteractive:
      break;
  }
  if (stop.kind == DebugStop::Kind::kSignal && quiet_signal(stop.signal)) return {};
  std::optional<Registers> regs;
  if (!stop.at_boundary) {
    auto r = session_->task_registers(t);
    if (!r) return std::unexpected(r.error());
    regs = *r;
  }
  return interactive_stop(t, stop, regs);
}

Status ReplayDebugger::interactive_stop(ReplayTask& t, const DebugStop& stop,
                                        std::optional<Registers> regs) {
  current_ = Position{session_->current_event(), t.rec_tid, regs, stop};
  RRL_TRY(serve(to_gdb(t, stop)));
  if (request_ != Request::kNone) return std::unexpected(abandon(request_));
  return {};
}

gdb::StopEvent ReplayDebugger::to_gdb(const ReplayTask& t, const DebugStop& stop) const {
  gdb::StopEvent out;
  out.thread = gdb::ThreadRef{t.rec_tgid, t.rec_tid};
  out.signal = SIGTRAP;
  switch (stop.kind) {
    case DebugStop::Kind::kBreakpoint:
      out.kind = gdb::StopKind::kSoftwareBreakpoint;
      break;
    case DebugStop::Kind::kWatchpoint:
      out.kind = gdb::StopKind::kWatchpoint;
      out.watch_address = stop.addr;
      out.watch_type = stop.watch == replayer::WatchKind::kWrite  ? gdb::BreakpointType::kWriteWatch
                       : stop.watch == replayer::WatchKind::kRead ? gdb::BreakpointType::kReadWatch
                                                                  : gdb::BreakpointType::kAccessWatch;
      break;
    case DebugStop::Kind::kSignal:
      out.kind = gdb::StopKind::kSignal;
      out.signal = stop.signal;
      break;
    case DebugStop::Kind::kStep:
    case DebugStop::Kind::kPosition:
      out.kind = gdb::StopKind::kSignal;
      break;
  }
  if (history_start_) out.kind = gdb::StopKind::kHistoryStart;
  return out;
}

// Publishes a stop and runs gdb's requests until gdb resumes.
Status ReplayDebugger::serve(const gdb::StopEvent& stop) {
  resumed_ = false;
  request_ = Request::kNone;
  history_start_ = false;
  mailbox_.publish(stop);
  while (!resumed_ && request_ == Request::kNone) {
    auto job = mailbox_.take_job();
    if (!job) {
      request_ = Request::kQuit;
      break;
    }
    (*job)();
  }
  return {};
}

// Where gdb would be had the program run backwards to the last breakpoint or
// watchpoint hit before the current position; the start when there is none.
Status ReplayDebugger::reverse_continue() {
  Position from = current_;
  auto last = scan_hits(from);
  if (!last) return std::unexpected(last.error());
  if (!*last) {
    target_ = Position{options_.start_event, 0, std::nullopt,
                       DebugStop{DebugStop::Kind::kSignal, 0, {}, SIGTRAP, true}};
    mode_ = Mode::kSeek;
    steps_left_ = 0;
    history_start_pending_ = true;
    return {};
  }
  Position hit = **last;
  steps_left_ = 0;
  if (hit.stop.kind == DebugStop::Kind::kWatchpoint) {
    // Stop before the write: step from the event's start up to after it.
    Position start{hit.event, hit.rec_tid, std::nullopt, hit.stop};
    auto n = count_steps(start, hit);
    if (!n) return std::unexpected(n.error());
    target_ = start;
    steps_left_ = *n > 0 ? *n - 1 : 0;
  } else {
    target_ = hit;
  }
  mode_ = Mode::kSeek;
  return {};
}

Expected<std::optional<Position>> ReplayDebugger::scan_hits(const Position& to) {
  hits_.clear();
  target_ = to;
  mode_ = Mode::kScan;
  auto st = run_session();
  if (!st && st.error().sys_errno != kAbandoned) return std::unexpected(st.error());
  std::erase_if(hits_, [&](const Position& p) { return p.event < options_.start_event; });
  if (hits_.empty()) return std::optional<Position>{};
  return std::optional<Position>(hits_.back());
}

// How many single-steps of `to`'s task take it from `from` (a boundary) to
// `to`, or to the syscall that ends its stretch when `to` is a boundary.
Expected<uint64_t> ReplayDebugger::count_steps(const Position& from, const Position& to) {
  target_ = from;
  step_scan_stop_ = to.regs;
  mode_ = Mode::kStepScan;
  auto st = run_session();
  if (!st && st.error().sys_errno != kAbandoned) return std::unexpected(st.error());
  step_scan_stop_.reset();
  return steps_taken_;
}

// One instruction back from the current position.
Status ReplayDebugger::reverse_step() {
  Position at = current_;
  // The instruction before a boundary is the last one of the previous
  // event's stretch (its syscall instruction, usually).
  uint64_t event = at.regs ? at.event : at.event - 1;
  if (event < options_.start_event || (at.event <= options_.start_event && !at.regs)) {
    target_ = Position{options_.start_event, 0, std::nullopt,
                       DebugStop{DebugStop::Kind::kSignal, 0, {}, SIGTRAP, true}};
    mode_ = Mode::kSeek;
    steps_left_ = 0;
    history_start_pending_ = true;
    return {};
  }
  Position start{event, 0, std::nullopt, DebugStop{DebugStop::Kind::kStep}};
  auto n = count_steps(start, at);
  if (!n) return std::unexpected(n.error());
  if (*n == 0) {
    // Nothing ran in this stretch: go back into the one before.
    current_ = Position{event, at.rec_tid, std::nullopt, {}};
    return reverse_step();
  }
  target_ = start;
  steps_left_ = *n > 0 ? *n - 1 : 0;
  mode_ = Mode::kSeek;
  return {};
}

}  // namespace rrl::debugger
