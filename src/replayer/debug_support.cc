// Running replayed tasks under a debugger's breakpoints, watchpoints and
// single-steps.
//
// Every resume of a task that runs user code goes through run_task. It loads
// watchpoints into the thread's debug registers, steps over a breakpoint that
// sits under the task's ip (lift the int3, one instruction, put it back), and
// sorts the SIGTRAPs that come back:
//   - an int3 of the debugger's: the ip is moved back onto the breakpoint and
//     the debugger hears of it (DebugHooks::on_stop); then the task goes on
//     the way it was going, as if nothing had happened;
//   - an int3 of replay's own search (internal_bp): returned to the caller;
//   - a finished single-step or a watchpoint (DR6 says which): reported;
//   - anything else is the program's own SIGTRAP and goes back to the caller.
// A single-step uses PTRACE_SYSEMU_SINGLESTEP, so a syscall instruction
// stepped over stops at its entry, to be replayed as its event says, and is
// never run by accident. Such a step ends once the syscall's event is done
// (ReplaySession::step_event).
#include <signal.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/ptrace.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

const LogChannel kLog("debugger");

bool is_sigtrap(int status) {
  return WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0;
}

}  // namespace

void ReplaySession::attach_debugger(DebugHooks* hooks, pid_t rec_pid) {
  hooks_ = hooks;
  debug_pid_ = rec_pid;
}

Status ReplaySession::report(ReplayTask& t, const DebugStop& stop) {
  kLog.debug(t.rec_tid, "stop kind {} at event {}", static_cast<int>(stop.kind), current_event_);
  return hooks_->on_stop(t, stop);
}

Expected<int> ReplaySession::run_task(ReplayTask& t, Resume how, int sig, uint64_t internal_bp,
                                      bool force_step) {
  t.hit_internal = false;
  bool debugged = is_debugged(t);
  while (true) {
    if (debugged) RRL_TRY(sync_watch_pages(t));
    bool user_step = debugged && hooks_->wants_step(t);
    uint64_t over = 0;  // a breakpoint under the ip, stepped over first
    if (!user_bps_.empty() || internal_bp != 0) {
      auto regs = ptrace::get_regs(t.tid);
      if (!regs) return std::unexpected(regs.error());
      if (user_bps_.contains(regs->ip()) || regs->ip() == internal_bp) over = regs->ip();
    }
    if (over) {
      RRL_TRY(user_bps_.lift(t.tid, over));
      RRL_TRY(internal_bps_.lift(t.tid, over));
    }
    bool stepping = user_step || force_step || over != 0;
    RRL_TRY(resume(t, how, std::exchange(sig, 0), stepping));
    auto status = wait_filtered(t, how, stepping);
    if (over && !t.exited) {
      RRL_TRY(user_bps_.restore(t.tid, over));
      RRL_TRY(internal_bps_.restore(t.tid, over));
    }
    if (!status) return status;
    if (debugged && WIFSTOPPED(*status) && WSTOPSIG(*status) == SIGSEGV && !watched_pages_.empty()) {
      // A write to a watched page: carried out by take_watch_fault.
      auto fault = take_watch_fault(t);
      if (!fault) return std::unexpected(fault.error());
      if (*fault) {
        if (**fault)
          RRL_TRY(report(t, DebugStop{DebugStop::Kind::kWatchpoint, (**fault)->addr, (**fault)->kind}));
        else if (user_step)
          RRL_TRY(report(t, DebugStop{DebugStop::Kind::kStep}));
        if (force_step || std::exchange(t.debug_break, false)) return (SIGTRAP << 8) | 0x7f;
        continue;
      }
    }
    if (!is_sigtrap(*status)) {
      bool syscall_stop = WIFSTOPPED(*status) && WSTOPSIG(*status) == (SIGTRAP | 0x80);
      if (user_step && syscall_stop) t.stepped_into_syscall = true;
      return status;
    }
    auto handled = handle_trap(t, stepping, user_step, internal_bp);
    if (!handled) return std::unexpected(handled.error());
    if (!*handled || t.hit_internal || force_step || std::exchange(t.debug_break, false))
      return status;
  }
}

// Sorts out one SIGTRAP stop of run_task: true when it was the debugger's or
// replay's own (the task goes on), false when it belongs to the program.
Expected<bool> ReplaySession::handle_trap(ReplayTask& t, bool stepping, bool user_step,
                                          uint64_t internal_bp) {
  bool debugged = is_debugged(t);
  auto si = ptrace::get_siginfo(t.tid);
  if (!si) return std::unexpected(si.error());
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  uint64_t at = regs->ip() - 1;
  if (si->si_code == SI_KERNEL && (user_bps_.contains(at) || at == internal_bp)) {
    regs->set_ip(at);
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
    // A vfork child runs in its parent's memory, among the parent's
    // breakpoints: it passes them silently.
    if (debugged && user_bps_.contains(at))
      RRL_TRY(report(t, DebugStop{DebugStop::Kind::kBreakpoint, at}));
    t.hit_internal = at == internal_bp;
    return true;
  }
  if (!stepping) return false;
  // A step can land on a breakpoint, which the next resume would step over.
  if (debugged && user_bps_.contains(regs->ip()) && !user_step)
    RRL_TRY(report(t, DebugStop{DebugStop::Kind::kBreakpoint, regs->ip()}));
  if (user_step) RRL_TRY(report(t, DebugStop{DebugStop::Kind::kStep}));
  t.hit_internal = internal_bp != 0 && regs->ip() == internal_bp;
  return true;
}

Status ReplaySession::add_breakpoint(uint64_t addr) {
  auto tasks = debugged_tasks();
  if (tasks.empty()) return fail("the debugged process is not running");
  return user_bps_.add(tasks.front()->tid, addr);
}

Status ReplaySession::remove_breakpoint(uint64_t addr) {
  auto tasks = debugged_tasks();
  if (tasks.empty()) return {};
  return user_bps_.remove(tasks.front()->tid, addr);
}

std::vector<ReplayTask*> ReplaySession::debugged_tasks() {
  std::vector<ReplayTask*> out;
  for (auto& [rec, t] : tasks_)
    if (is_debugged(*t)) out.push_back(t.get());
  return out;
}

ReplayTask* ReplaySession::find_task(pid_t rec_tid) {
  auto it = tasks_.find(rec_tid);
  return it == tasks_.end() || it->second->exited ? nullptr : it->second.get();
}

std::vector<uint8_t> ReplaySession::read_debug_memory(uint64_t addr, size_t len) {
  auto tasks = debugged_tasks();
  std::vector<uint8_t> out(len);
  if (tasks.empty()) return {};
  // Read what is readable: a range that crosses into an unmapped page is cut there.
  size_t done = 0;
  while (done < len) {
    size_t chunk = std::min<size_t>(len - done, 4096 - ((addr + done) & 4095));
    std::span<uint8_t> part(out.data() + done, chunk);
    if (!ptrace::read_memory(tasks.front()->tid, RemoteAddr(addr + done), part)) break;
    done += chunk;
  }
  out.resize(done);
  user_bps_.hide(addr, out);
  return out;
}

Expected<bool> ReplaySession::single_step(const trace::Event& ev) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  RRL_TRY(collect_first_stop(t));
  if (t.at_entry || t.at_event_stop || t.pending_sig || t.restart_result)
    return false;  // the event itself comes first
  auto status = run_task(t, Resume::kSysemu, 0, 0, /*force_step=*/true);
  if (!status) return std::unexpected(status.error());
  if (WIFSTOPPED(*status) && WSTOPSIG(*status) == (SIGTRAP | 0x80)) {
    t.at_entry = true;
    return false;
  }
  if (is_sigtrap(*status)) return true;
  return false;  // a fault: the event replays it
}

Status ReplaySession::run_to(const trace::Event& ev, uint64_t addr) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  RRL_TRY(collect_first_stop(t));
  if (t.at_entry || t.at_event_stop)
    return std::unexpected(divergence(ev, "a debugger position lies past this event's syscall"));
  if (addr) RRL_TRY(internal_bps_.add(t.tid, addr));
  auto status = run_task(t, Resume::kSysemu, std::exchange(t.pending_sig, 0), addr);
  if (addr && !t.exited) RRL_TRY(internal_bps_.remove(t.tid, addr));
  if (!status) return std::unexpected(status.error());
  bool arrived = addr ? t.hit_internal : is_sigtrap(*status);
  if (!arrived)
    return std::unexpected(divergence(
        ev, fmt::format("a debugger position was not reached: the task stopped with status {:#x}",
                        *status)));
  return {};
}

Expected<Registers> ReplaySession::task_registers(const ReplayTask& t) const {
  return ptrace::get_regs(t.tid);
}

Status ReplaySession::run_to_state(const trace::Event& ev, const Registers& want) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  return reach_state(**tp, ev, want);
}

}  // namespace rrl::replayer
