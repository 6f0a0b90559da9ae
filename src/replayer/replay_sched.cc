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

std::string state_diff(const Registers& want, const Registers& got) {
  std::string out;
  auto add = [&](const char* name, uint64_t a, uint64_t b) {
    if (a != b) out += fmt::format(" {}={:#x} (want {:#x})", name, b, a);
  };
  add("rax", want.r.rax, got.r.rax);
  add("rbx", want.r.rbx, got.r.rbx);
  add("rcx", want.r.rcx, got.r.rcx);
  add("rdx", want.r.rdx, got.r.rdx);
  add("rsi", want.r.rsi, got.r.rsi);
  add("rdi", want.r.rdi, got.r.rdi);
  add("rbp", want.r.rbp, got.r.rbp);
  add("rsp", want.r.rsp, got.r.rsp);
  add("r8", want.r.r8, got.r.r8);
  add("r9", want.r.r9, got.r.r9);
  add("r10", want.r.r10, got.r.r10);
  add("r11", want.r.r11, got.r.r11);
  add("r12", want.r.r12, got.r.r12);
  add("r13", want.r.r13, got.r.r13);
  add("r14", want.r.r14, got.r.r14);
  add("r15", want.r.r15, got.r.r15);
  add("eflags", want.r.eflags, got.r.eflags);
  return out;
}

}  // namespace

// Visits by int3 before reach_state moves the search into the task.
constexpr int kVisitsBeforeStub = 16;

bool same_state(const Registers& a, const Registers& b) {
  constexpr uint64_t kArithFlags = 0x8d5;  // CF PF AF ZF SF OF
  return !compare_regs(a, b) && a.r.rax == b.r.rax && a.r.rcx == b.r.rcx && a.r.r11 == b.r.r11 &&
         a.r.rbx == b.r.rbx && a.r.rbp == b.r.rbp && a.r.r12 == b.r.r12 && a.r.r13 == b.r.r13 &&
         a.r.r14 == b.r.r14 && a.r.r15 == b.r.r15 &&
         (a.r.eflags & kArithFlags) == (b.r.eflags & kArithFlags);
}

Status ReplaySession::on_sched(const trace::Event& ev, const trace::SchedEvent& se) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  return reach_state(**tp, ev, se.regs, se.progress, se.branches);
}

// Whether the task's memory holds `words` (recorder/progress.cc).
Expected<bool> ReplaySession::words_match(ReplayTask& t, const std::vector<trace::MemWord>& words) {
  for (const auto& w : words) {
    uint64_t v = 0;
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(w.addr), std::span(reinterpret_cast<uint8_t*>(&v), 8)));
    if (v != w.value) return false;
  }
  return true;
}

// With a branch counter (progress/progress_source.h): the counter interrupts
// the task a little before the recorded count, and the search by state goes
// on from there, with few visits left. The counts only skip ahead: the point
// is still recognised by its state. True when it skipped (the in-process
// stub must then stay out: its branches would count).
Expected<bool> ReplaySession::skip_ahead(ReplayTask& t, const trace::Event& ev, uint64_t branches) {
  if (!progress_->counts()) return false;
  auto now = progress_->count(t.tid);
  if (!now || !*now) return false;
  if (**now + progress::kSkidMargin < branches) {
    auto armed = progress_->arm(t.tid, branches - progress::kSkidMargin - **now);
    if (!armed) return std::unexpected(armed.error());
    if (!*armed) return false;
    auto status = run_task(t, Resume::kSysemu, std::exchange(t.pending_sig, 0), 0);
    progress_->disarm(t.tid);
    if (!status) return std::unexpected(status.error());
    if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != progress::kInterruptSignal)
      return std::unexpected(divergence(
          ev, fmt::format("running to branch {} of the task, it stopped with status {:#x}",
                          branches, *status)));
  }
  return true;
}

Status ReplaySession::reach_state(ReplayTask& t, const trace::Event& ev, const Registers& want,
                                  const std::vector<trace::MemWord>& words,
                                  std::optional<uint64_t> branches) {
  RRL_TRY(collect_first_stop(t));
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  auto here = words_match(t, words);
  if (!here) return std::unexpected(here.error());
  if (same_state(want, *regs) && *here && t.pending_sig == 0 && t.restart_result == 0) return {};
  bool counted = false;
  if (branches) {
    auto skipped = skip_ahead(t, ev, *branches);
    if (!skipped) return std::unexpected(skipped.error());
    counted = *skipped;
  }
  uint64_t target = want.ip();
  RRL_TRY(internal_bps_.add(t.tid, target));
  struct Lift {
    ReplaySession* self;
    ReplayTask* t;
    uint64_t target;
    bool active = true;
    ~Lift() {
      if (active && !t->exited) (void)self->internal_bps_.remove(t->tid, target);
    }
  } lift{this, &t, target};
  std::string last_miss;
  for (int visits = 1;; ++visits) {
    auto status = run_task(t, Resume::kSysemu, std::exchange(t.pending_sig, 0), target);
    if (!status) return std::unexpected(status.error());
    regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    if (!t.hit_internal)
      return std::unexpected(divergence(
          ev, fmt::format("looking for the recorded point at {:#x}, the task stopped with "
                          "status {:#x} at {:#x}{}",
                          target, *status, regs->ip(),
                          last_miss.empty() ? "" : "; it passed there with" + last_miss)));
    if (same_state(want, *regs)) {
      auto match = words_match(t, words);
      if (!match) return std::unexpected(match.error());
      if (*match) return {};
    }
    last_miss = state_diff(want, *regs);
    if (visits == kVisitsBeforeStub && !counted) {
      // A hot loop: search at native speed instead (fast_search.cc).
      RRL_TRY(internal_bps_.remove(t.tid, target));
      lift.active = false;
      auto found = reach_state_in_process(t, want, words);
      if (!found) return std::unexpected(divergence(ev, found.error().describe()));
      if (*found) return {};
      RRL_TRY(internal_bps_.add(t.tid, target));
      lift.active = true;
    }
  }
}

}  // namespace rrl::replayer
