// Watchpoints by page protection.
//
// The pages under a watchpoint lose write permission (all permissions for a
// read or access watchpoint) in the debugged process. A write there faults:
// the SIGSEGV stops the task before the instruction has done anything. Replay
// then gives the page its permissions back, single-steps the instruction,
// takes them away again, and, when the address was inside a watched range,
// reports the watchpoint, after the write as the hardware would. Faults on
// the rest of a protected page cost the same four stops and report nothing.
//
// Permissions are changed by mprotect syscalls run inside the task, from the
// syscall instruction of the rewritten vdso (any `syscall` would do). The
// program's own mprotect, mmap or munmap may change a protected page; its
// permissions are read again from /proc/PID/maps after each such syscall.
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/ptrace.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

constexpr uint64_t kPage = 4096;

}  // namespace

// A syscall instruction in the task's address space: the rewritten vdso has
// one in every entry point.
Expected<uint64_t> ReplaySession::find_syscall_insn(ReplayTask& t) {
  if (syscall_insn_) return syscall_insn_;
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (const auto& m : *maps) {
    if (m.path != "[vdso]") continue;
    std::vector<uint8_t> code(m.end - m.start);
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(m.start), code));
    for (size_t i = 0; i + 2 < code.size(); ++i)
      if (code[i] == 0x0f && code[i + 1] == 0x05 && code[i + 2] == 0xc3)
        return syscall_insn_ = m.start + i;
  }
  return fail("no syscall instruction found in the replayed process (no vdso?)");
}

// Runs syscall `nr` in the stopped task, wherever it is stopped, and puts its
// registers back.
Expected<int64_t> ReplaySession::inject_anywhere(ReplayTask& t, int64_t nr,
                                                 std::initializer_list<uint64_t> args) {
  auto insn = find_syscall_insn(t);
  if (!insn) return std::unexpected(insn.error());
  auto saved = ptrace::get_regs(t.tid);
  if (!saved) return std::unexpected(saved.error());
  Registers regs = *saved;
  regs.set_ip(*insn);
  regs.r.rax = regs.r.orig_rax = static_cast<uint64_t>(nr);
  unsigned long long* slots[] = {&regs.r.rdi, &regs.r.rsi, &regs.r.rdx,
                                 &regs.r.r10, &regs.r.r8,  &regs.r.r9};
  size_t i = 0;
  for (uint64_t a : args) *slots[i++] = a;
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  // Entry, then exit. A task parked in a skipped (SYSEMU) syscall reports
  // that call's exit first.
  int64_t result = 0;
  for (int stops = 0; stops < 4; ++stops) {
    RRL_TRY(ptrace::syscall(t.tid));
    auto status = wait_filtered(t, Resume::kSyscall);
    if (!status) return std::unexpected(status.error());
    if (WIFSTOPPED(*status) && (*status >> 16) == PTRACE_EVENT_FORK) {
      stops--;  // an injected fork (a checkpoint) reports its child first
      continue;
    }
    if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != (SIGTRAP | 0x80))
      return fail(fmt::format("a syscall injected by replay stopped with {:#x}", *status));
    auto now = ptrace::get_regs(t.tid);
    if (!now) return std::unexpected(now.error());
    auto is_exit = ptrace::syscall_stop_is_exit(t.tid);
    if (!is_exit) return std::unexpected(is_exit.error());
    if (*is_exit && now->ip() == *insn + 2) {
      result = now->result();
      break;
    }
  }
  RRL_TRY(ptrace::set_regs(t.tid, *saved));
  return result;
}

Status ReplaySession::set_page_prot(ReplayTask& t, uint64_t page, int prot) {
  auto r = inject_anywhere(t, SYS_mprotect, {page, kPage, static_cast<uint64_t>(prot)});
  if (!r) return std::unexpected(r.error());
  if (*r != 0) return fail(fmt::format("mprotect for a watchpoint at {:#x} failed: {}", page, *r));
  return {};
}

// Makes the protection of the debugged process's pages match the watchpoints.
Status ReplaySession::sync_watch_pages(ReplayTask& t) {
  if (pages_generation_ == watch_.generation()) return {};
  std::map<uint64_t, int> wanted;  // page -> permissions to take away
  for (const auto& w : watch_.all()) {
    int mask = w.kind == WatchKind::kWrite ? PROT_WRITE : PROT_READ | PROT_WRITE | PROT_EXEC;
    for (uint64_t p = w.addr & ~(kPage - 1); p < w.addr + w.len; p += kPage) wanted[p] |= mask;
  }
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  auto current = [&](uint64_t page) -> std::optional<int> {
    for (const auto& m : *maps)
      if (page >= m.start && page < m.end) return static_cast<int>(m.prot);
    return std::nullopt;
  };
  for (auto it = watched_pages_.begin(); it != watched_pages_.end();) {
    auto now = current(it->first);
    if (now && *now != it->second.applied) it->second.original = *now;  // the program's change
    if (!wanted.contains(it->first)) {
      if (now && *now == it->second.applied) RRL_TRY(set_page_prot(t, it->first, it->second.original));
      it = watched_pages_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [page, mask] : wanted) {
    auto now = current(page);
    if (!now) continue;  // not mapped (yet)
    bool known = watched_pages_.contains(page);
    auto& wp = watched_pages_[page];
    if (!known || *now != wp.applied) wp.original = *now;
    wp.applied = wp.original & ~mask;
    if (*now != wp.applied) RRL_TRY(set_page_prot(t, page, wp.applied));
  }
  pages_generation_ = watch_.generation();
  return {};
}

// A SIGSEGV stop of a debugged task: if it hit a page protected for a
// watchpoint, carry the instruction out and say whether a watched range was
// touched. Returns nullopt when the fault is the program's own.
Expected<std::optional<const Watchpoint*>> ReplaySession::take_watch_fault(ReplayTask& t) {
  auto si = ptrace::get_siginfo(t.tid);
  if (!si) return std::unexpected(si.error());
  if (si->si_signo != SIGSEGV || si->si_code != SEGV_ACCERR) return std::nullopt;
  uint64_t addr = reinterpret_cast<uint64_t>(si->si_addr);
  auto it = watched_pages_.find(addr & ~(kPage - 1));
  if (it == watched_pages_.end()) return std::nullopt;
  RRL_TRY(set_page_prot(t, it->first, it->second.original));
  RRL_TRY(resume(t, Resume::kSysemu, 0, /*step=*/true));
  auto status = wait_filtered(t, Resume::kSysemu, /*step=*/true);
  if (!status) return std::unexpected(status.error());
  RRL_TRY(set_page_prot(t, it->first, it->second.applied));
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGTRAP)
    return fail(fmt::format("stepping over a watched write stopped with {:#x}", *status));
  return std::optional<const Watchpoint*>(watch_.find(addr));
}

}  // namespace rrl::replayer
