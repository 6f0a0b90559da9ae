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
// Those replays start from the nearest checkpoint before their target, not
// from the start of the trace: a checkpoint is taken every few hundred events
// where the replayed processes can be copied (see checkpoint.cc).
#include "debugger/replay_debugger.h"

#include <signal.h>

#include <cstdlib>

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

ReplayDebugger::ReplayDebugger(DebuggerOptions options, SessionFactory factory, Mailbox& mailbox)
    : options_(std::move(options)), factory_(std::move(factory)), mailbox_(mailbox) {}

Error ReplayDebugger::abandon(Request why) {
  request_ = why;
  return Error{"replay abandoned", kAbandoned};
}

namespace {

Position boundary(uint64_t event, int signal = SIGTRAP) {
  return Position{event, {}, DebugStop{DebugStop::Kind::kSignal, 0, {}, signal, true}};
}

}  // namespace

void ReplayDebugger::seek(Position to, bool history_start) {
  target_ = std::move(to);
  mode_ = Mode::kSeek;
  history_start_pending_ = history_start;
}

Status ReplayDebugger::drive() {
  seek(boundary(options_.start_event));
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
        seek(*seek_request_);
        break;
      case Request::kNone:
        return fail("the replay ended without reaching the position gdb asked for");
    }
  }
}

// One replay, from the start of the trace to its end or until abandoned.
Status ReplayDebugger::run_session() {
  session_.reset();  // its tasks go first
  auto from = std::exchange(forced_start_, false) ? std::exchange(start_from_, nullptr)
                                                  : checkpoint_before(target_);
  auto made = from ? replayer::ReplaySession::restore(*from) : factory_();
  if (!made) return std::unexpected(made.error());
  session_ = std::move(*made);
  session_->attach_debugger(this, options_.rec_pid);
  session_->set_echo(mode_ == Mode::kInteractive);
  points_installed_ = false;
  if (from && mode_ == Mode::kScan) RRL_TRY(install_user_points());
  while (true) {
    auto more = session_->step_event();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
  }
  if (mode_ != Mode::kInteractive) return {};  // the target was past the end
  return serve_exit(session_->exit_status());
}

// The debugged process is gone (or the trace ended): gdb hears its exit
// status, and can only go back from here.
Status ReplayDebugger::serve_exit(int status) {
  gdb::StopEvent exit;
  bool killed = status > 128;  // shell style: 128+N for signal N
  exit.kind = killed ? gdb::StopKind::kTerminated : gdb::StopKind::kExited;
  exit.exit_code = killed ? 0 : status;
  exit.signal = killed ? status - 128 : 0;
  exit.thread = gdb::ThreadRef{options_.rec_pid, options_.rec_pid};
  current_ = boundary(session_->current_event());
  do RRL_TRY(serve(exit));
  while (request_ == Request::kNone);
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
  arrivals_.clear();
  triggers_.clear();
  maybe_checkpoint(ev);
  if (mode_ != Mode::kInteractive && ev.number == target_.event) return at_target(ev);
  return {};
}

namespace {

constexpr uint64_t kCheckpointInterval = 400;  // events

// RR_LIKE_CHECKPOINT_INTERVAL overrides it (tests use many checkpoints).
uint64_t checkpoint_interval() {
  static const uint64_t interval = [] {
    const char* v = std::getenv("RR_LIKE_CHECKPOINT_INTERVAL");
    uint64_t n = v ? std::strtoull(v, nullptr, 10) : 0;
    return n > 0 ? n : kCheckpointInterval;
  }();
  return interval;
}
constexpr size_t kMaxCheckpoints = 64;

}  // namespace

// Takes a checkpoint when the last one is far enough behind, while the replay
// moves forward into territory gdb may want to come back to.
void ReplayDebugger::maybe_checkpoint(const trace::Event& ev) {
  if (mode_ != Mode::kInteractive && mode_ != Mode::kSeek) return;
  if (ev.number < options_.history_start) return;
  auto next = checkpoints_at_.upper_bound(ev.number);
  if (next != checkpoints_at_.begin() && std::prev(next)->first + checkpoint_interval() > ev.number)
    return;
  auto cp = session_->checkpoint();
  if (!cp) {
    kLog.info(0, "no checkpoint at event {}: {}", ev.number, cp.error().describe());
    return;
  }
  if (!*cp) return;  // not possible here
  checkpoints_at_[ev.number] = *cp;
  if (checkpoints_at_.size() > kMaxCheckpoints) {
    // Thin out: every other one, keeping the first.
    bool drop = false;
    for (auto it = std::next(checkpoints_at_.begin()); it != checkpoints_at_.end();)
      it = (drop = !drop) ? checkpoints_at_.erase(it) : std::next(it);
  }
}

// The latest checkpoint strictly before position `p` (nullptr: the start).
std::shared_ptr<replayer::Checkpoint> ReplayDebugger::checkpoint_before(const Position& p) const {
  auto it = checkpoints_at_.upper_bound(p.event);
  while (it != checkpoints_at_.begin()) {
    --it;
    if (it->first < p.event || !p.path.empty()) return it->second;
  }
  return nullptr;
}

Status ReplayDebugger::after_event(const trace::Event& ev) {
  if (!points_installed_ && (mode_ == Mode::kScan || mode_ == Mode::kInteractive) &&
      !session_->debugged_tasks().empty())
    RRL_TRY(install_user_points());
  if (mode_ == Mode::kInteractive && ev.tid == options_.rec_pid) {
    if (auto* ex = std::get_if<trace::ExitEvent>(&ev.data)) {
      int st = ex->wait_status;
      return serve_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
    }
  }
  if (mode_ != Mode::kInteractive || !mailbox_.take_interrupt()) return {};
  ReplayTask* t = session_->find_task(ev.tid);
  if (!t || !session_->is_debugged(*t)) {
    auto tasks = session_->debugged_tasks();
    if (tasks.empty()) return {};
    t = tasks.front();
  }
  return interactive_stop(*t, boundary(session_->current_event(), SIGINT));
}

// Follows `path` from the start of `ev`'s stretch, running at full speed
// between arrivals.
Status ReplayDebugger::walk(const trace::Event& ev, const std::vector<PathStep>& path) {
  for (size_t i = 0; i < path.size(); ++i) {
    const PathStep& step = path[i];
    bool last = i + 1 == path.size();
    for (uint64_t n = 1; n <= step.count; ++n) {
      switch (step.kind) {
        case PathStep::Kind::kArrive:
          ignore_arrival_ = last && n == step.count ? step.addr : 0;
          RRL_TRY(session_->run_to(ev, step.addr));
          ignore_arrival_ = 0;
          break;
        case PathStep::Kind::kSteps: {
          auto plain = session_->single_step(ev);
          if (!plain) return std::unexpected(plain.error());
          if (!*plain) return fail("a debugger position lies past its event's syscall");
          break;
        }
        case PathStep::Kind::kWatch: {
          RRL_TRY(session_->watchpoints().add(step.addr, step.len, step.watch));
          walking_watch_ = true;
          auto st = session_->run_to(ev, 0);
          walking_watch_ = false;
          RRL_TRY(session_->watchpoints().remove(step.addr, step.len, step.watch));
          if (!st) return st;
          break;
        }
      }
    }
  }
  return {};
}

// Follows `path` one instruction at a time, counting the instructions in
// `steps_taken_`; an empty path: to the end of the event's stretch.
Status ReplayDebugger::walk_stepping(const trace::Event& ev, const std::vector<PathStep>& path) {
  steps_taken_ = 0;
  // An mmap's contents or a code patch: the task ran nothing for these.
  stretch_empty_ = std::holds_alternative<trace::MmapEvent>(ev.data) ||
                   std::holds_alternative<trace::PreloadEvent>(ev.data) ||
                   (std::holds_alternative<trace::PatchEvent>(ev.data) &&
                    std::get<trace::PatchEvent>(ev.data).restart_ip == 0);
  if (stretch_empty_) return {};
  ReplayTask* t = session_->find_task(ev.tid);
  if (!t) return fail("the task to step back in is gone");
  auto one = [&]() -> Expected<bool> {
    auto plain = session_->single_step(ev);
    if (plain && *plain) steps_taken_++;
    return plain;
  };
  if (path.empty()) {
    while (true) {
      auto plain = one();
      if (!plain) return std::unexpected(plain.error());
      if (!*plain) return {};
    }
  }
  for (const PathStep& step : path) {
    if (step.kind == PathStep::Kind::kWatch)
      RRL_TRY(session_->watchpoints().add(step.addr, step.len, step.watch));
    fired_ = 0;
    for (uint64_t n = 0; n < step.count;) {
      auto plain = one();
      if (!plain) return std::unexpected(plain.error());
      if (!*plain) return fail("a debugger position lies past its event's syscall");
      if (step.kind == PathStep::Kind::kSteps) {
        n++;
      } else if (step.kind == PathStep::Kind::kArrive) {
        auto regs = session_->task_registers(*t);
        if (!regs) return std::unexpected(regs.error());
        if (regs->ip() == step.addr) n++;
      } else if (std::exchange(fired_, 0) > 0) {
        n++;
      }
    }
    if (step.kind == PathStep::Kind::kWatch)
      RRL_TRY(session_->watchpoints().remove(step.addr, step.len, step.watch));
  }
  return {};
}

// The replay reached the event of `target_`: what now depends on the mode.
Status ReplayDebugger::at_target(const trace::Event& ev) {
  if (mode_ == Mode::kStepScan) {
    RRL_TRY(walk_stepping(ev, target_.path));
    return std::unexpected(abandon(Request::kNone));
  }
  RRL_TRY(walk(ev, target_.path));
  if (mode_ == Mode::kScan) return std::unexpected(abandon(Request::kNone));
  mode_ = Mode::kInteractive;
  session_->set_echo(true);
  RRL_TRY(install_user_points());
  ReplayTask* t = session_->find_task(ev.tid);
  if (!t) return fail("the task gdb stopped in is gone");
  history_start_ = std::exchange(history_start_pending_, false);
  return interactive_stop(*t, target_);
}

Status ReplayDebugger::install_user_points() {
  points_installed_ = true;
  for (uint64_t addr : breakpoints_)
    if (auto st = session_->add_breakpoint(addr); !st)
      kLog.info(0, "breakpoint at {:#x} not inserted: {}", addr, st.error().describe());
  for (const auto& w : watches_) RRL_TRY(session_->watchpoints().add(w.addr, w.len, w.kind));
  return {};
}

// The current position, one step further along the current stretch.
Position ReplayDebugger::extend(const PathStep& step) const {
  Position p;
  p.event = session_->current_event();
  if (current_.event == p.event) p.path = current_.path;
  auto& path = p.path;
  bool merge = !path.empty() && path.back().kind == step.kind && step.kind == PathStep::Kind::kSteps;
  if (merge)
    path.back().count += step.count;
  else
    path.push_back(step);
  return p;
}

Status ReplayDebugger::on_stop(ReplayTask& t, const DebugStop& stop) {
  bool arrival = stop.kind == DebugStop::Kind::kBreakpoint;
  bool trigger = stop.kind == DebugStop::Kind::kWatchpoint;
  uint64_t count = 0;
  if (trigger) fired_++;
  if (arrival) count = ++arrivals_[stop.addr];
  if (trigger) count = ++triggers_[stop.addr];
  // walk() waits for this trigger. A scan still counts it as a hit: going
  // back from just after a write starts by undoing that write.
  if (walking_watch_ && trigger) t.debug_break = true;
  if (walking_watch_ && mode_ != Mode::kScan) return {};
  switch (mode_) {
    case Mode::kSeek:
    case Mode::kStepScan:
      return {};
    case Mode::kScan: {
      if (arrival && stop.addr == ignore_arrival_) return {};
      if (!arrival && !trigger) return {};
      Position hit{session_->current_event(), {}, stop};
      if (arrival) hit.path.push_back(PathStep{PathStep::Kind::kArrive, stop.addr, count});
      for (const auto& w : watches_)
        if (trigger && stop.addr >= w.addr && stop.addr < w.addr + w.len)
          hit.path.push_back(PathStep{PathStep::Kind::kWatch, stop.addr, count, 1, w.kind});
      if (!hit.path.empty()) hits_.push_back(hit);
      return {};
    }
    case Mode::kInteractive:
      break;
  }
  if (stop.kind == DebugStop::Kind::kSignal && quiet_signal(stop.signal)) return {};
  Position at;
  if (stop.at_boundary) {
    at = boundary(session_->current_event());
  } else if (stop.kind == DebugStop::Kind::kSignal) {
    // The signal is delivered when the task next runs: the same point as
    // the boundary after this event.
    at = boundary(session_->current_event() + 1, stop.signal);
  } else if (arrival) {
    at = extend(PathStep{PathStep::Kind::kArrive, stop.addr, count});
  } else if (trigger) {
    at = extend(PathStep{PathStep::Kind::kWatch, stop.addr, count, 1, stop.watch});
  } else {
    at = extend(PathStep{PathStep::Kind::kSteps, 0, 1});
  }
  at.stop = stop;
  return interactive_stop(t, at);
}

Status ReplayDebugger::interactive_stop(ReplayTask& t, const Position& at) {
  current_ = at;
  current_tid_ = t.rec_tid;
  RRL_TRY(serve(to_gdb(t, at.stop)));
  arrivals_.clear();  // counted again from here
  triggers_.clear();
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
  Position to = current_;
  while (true) {
    auto from = checkpoint_before(to);
    auto last = scan_hits(from, to);
    if (!last) return std::unexpected(last.error());
    if (*last) break;
    if (!from) {
      seek(boundary(options_.history_start), /*history_start=*/true);
      return {};
    }
    to = boundary(from->event);  // nothing there: the stretch before that checkpoint
  }
  Position hit = hits_.back();
  if (hit.stop.kind == DebugStop::Kind::kWatchpoint) {
    // Stop before the write: the instruction before the trigger.
    auto n = count_steps(hit);
    if (!n) return std::unexpected(n.error());
    Position before{hit.event, {}, hit.stop};
    if (*n > 1) before.path.push_back(PathStep{PathStep::Kind::kSteps, 0, *n - 1});
    seek(before);
    return {};
  }
  seek(hit);
  return {};
}

// The breakpoint and watchpoint hits between checkpoint `from` and `to`
// (`hits_`); the last of them, if any.
Expected<std::optional<Position>> ReplayDebugger::scan_hits(
    std::shared_ptr<replayer::Checkpoint> from, const Position& to) {
  hits_.clear();
  target_ = to;
  mode_ = Mode::kScan;
  start_from_ = std::move(from);
  forced_start_ = true;
  auto st = run_session();
  if (!st && st.error().sys_errno != kAbandoned) return std::unexpected(st.error());
  std::erase_if(hits_, [&](const Position& p) { return p.event < options_.history_start; });
  if (hits_.empty()) return std::optional<Position>{};
  return std::optional<Position>(hits_.back());
}

// How many single-steps take the task from the start of `to`'s event to
// `to`; to the end of the event's stretch when `to` is a boundary.
Expected<uint64_t> ReplayDebugger::count_steps(const Position& to) {
  target_ = to;
  mode_ = Mode::kStepScan;
  steps_taken_ = 0;
  auto st = run_session();
  if (!st && st.error().sys_errno != kAbandoned) return std::unexpected(st.error());
  return steps_taken_;
}

// One instruction back from the current position.
Status ReplayDebugger::reverse_step() {
  Position at = current_;
  while (true) {
    bool boundary_target = at.path.empty();
    // The instruction before a boundary is the last one of the previous
    // event's stretch: usually its syscall instruction, which the task is
    // about to execute after that stretch's plain steps.
    if (boundary_target) at.event--;
    if (at.event < options_.history_start) {
      seek(boundary(options_.history_start), /*history_start=*/true);
      return {};
    }
    auto n = count_steps(at);
    if (!n) return std::unexpected(n.error());
    uint64_t steps = boundary_target ? *n : *n - 1;
    if (!stretch_empty_ && (boundary_target || *n > 0)) {
      Position before{at.event, {}, DebugStop{DebugStop::Kind::kStep}};
      if (steps > 0) before.path.push_back(PathStep{PathStep::Kind::kSteps, 0, steps});
      seek(before);
      return {};
    }
    at = Position{at.event, {}, {}};  // nothing ran in this stretch: the one before
  }
}

}  // namespace rrl::debugger
