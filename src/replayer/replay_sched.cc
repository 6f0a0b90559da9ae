// Finding a time-slice switch point, or an asynchronous signal's delivery
// point, again.
//
// The recorder interrupted a task that ran too long without an event and
// recorded its full register state. Without a branch counter, replay runs the
// task with a breakpoint at the recorded ip and stops at the first hit whose
// registers all match: identical register states at the same point are
// interchangeable as far as this task's registers go. (States that differ
// only in memory are not told apart yet: see DESIGN.md, "Progress without a
// PMU".) Each hit costs a stop, so this is slow for a hot loop; such switches
// are rare because most tasks reach a syscall long before a time slice ends.
#include <fmt/core.h>
#include <signal.h>
#include <sys/wait.h>

#include "common/ptrace.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

bool same_state(const Registers& a, const Registers& b) {
  constexpr uint64_t kArithFlags = 0x8d5;  // CF PF AF ZF SF OF
  return !compare_regs(a, b) && a.r.rax == b.r.rax && a.r.rcx == b.r.rcx && a.r.r11 == b.r.r11 &&
         a.r.rbx == b.r.rbx && a.r.rbp == b.r.rbp && a.r.r12 == b.r.r12 && a.r.r13 == b.r.r13 &&
         a.r.r14 == b.r.r14 && a.r.r15 == b.r.r15 &&
         (a.r.eflags & kArithFlags) == (b.r.eflags & kArithFlags);
}

}  // namespace

Status ReplaySession::on_sched(const trace::Event& ev, const trace::SchedEvent& se) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  return reach_state(**tp, ev, se.regs);
}

Status ReplaySession::reach_state(ReplayTask& t, const trace::Event& ev, const Registers& want) {
  if (t.first_stop_pending) {
    auto st = wait_stop(t);
    if (!st) return std::unexpected(st.error());
    t.first_stop_pending = false;
  }
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (same_state(want, *regs) && t.pending_sig == 0 && t.restart_result == 0) return {};
  RemoteAddr target(want.ip());
  uint8_t original = 0;
  RRL_TRY(ptrace::read_memory(t.tid, target, std::span<uint8_t>(&original, 1)));
  const uint8_t int3 = 0xcc;
  while (true) {
    RRL_TRY(ptrace::write_memory(t.tid, target, std::span<const uint8_t>(&int3, 1)));
    RRL_TRY(resume(t, Resume::kSysemu, std::exchange(t.pending_sig, 0)));
    auto status = wait_stop(t);
    if (!status) return std::unexpected(status.error());
    RRL_TRY(ptrace::write_memory(t.tid, target, std::span<const uint8_t>(&original, 1)));
    regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    bool hit = WIFSTOPPED(*status) && WSTOPSIG(*status) == SIGTRAP && (*status >> 16) == 0 &&
               regs->ip() == target.addr() + 1;
    if (!hit)
      return std::unexpected(divergence(
          ev, fmt::format("looking for the recorded point at {:#x}, the task stopped with "
                          "status {:#x} at {:#x}",
                          target.addr(), *status, regs->ip())));
    regs->set_ip(target.addr());
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
    if (same_state(want, *regs)) return {};
    // Not this visit: execute the real instruction, then arm the breakpoint again.
    RRL_TRY(ptrace::singlestep(t.tid));
    auto step = wait_stop(t);
    if (!step) return std::unexpected(step.error());
    if (!WIFSTOPPED(*step) || WSTOPSIG(*step) != SIGTRAP)
      return std::unexpected(divergence(ev, "single-stepping past the recorded point failed"));
  }
}

}  // namespace rrl::replayer
