// Replaying syscall buffering: the preload code's mapping, the syscalls it
// buffered, and the patches of syscall sites. Nothing is decided here: the
// preload code runs again as it ran when recorded, its untraced syscalls stop
// (PTRACE_SYSEMU stops every syscall) and are answered from their records,
// and patches are written at the events that recorded them.
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "common/ptrace.h"
#include "common/syscalls.h"
#include "preload/preload_interface.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

Status ReplaySession::on_preload(const trace::Event& ev, const trace::PreloadEvent& pe) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  if (pe.version != RRL_PRELOAD_VERSION)
    return fail(fmt::format(
        "the trace was recorded with version {} of the preload code; this rr-like replays "
        "version {} (replay it with the rr-like that recorded it)",
        pe.version, RRL_PRELOAD_VERSION));
  const uint64_t flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  const uint64_t code_len = pe.code_size + pe.stubs_size;
  auto code = inject_anywhere(
      t, SYS_mmap,
      {pe.code_addr, code_len, PROT_READ | PROT_EXEC, flags, static_cast<uint64_t>(-1), 0});
  if (!code) return std::unexpected(code.error());
  auto buffer = inject_anywhere(t, SYS_mmap,
                                {pe.code_addr + code_len, pe.buffer_size, PROT_READ | PROT_WRITE,
                                 flags, static_cast<uint64_t>(-1), 0});
  if (!buffer) return std::unexpected(buffer.error());
  if (static_cast<uint64_t>(*code) != pe.code_addr ||
      static_cast<uint64_t>(*buffer) != pe.code_addr + code_len)
    return std::unexpected(divergence(ev, fmt::format("mapping the preload code at {:#x} gave "
                                                      "{:#x} and {:#x}",
                                                      pe.code_addr, *code, *buffer)));
  untraced_ip_ = pe.untraced_ip;
  return ptrace::write_memory(t.tid, RemoteAddr(pe.code_addr), pe.code);
}

Status ReplaySession::on_buffered(const trace::Event& ev, const trace::BufferedSyscallEvent& be) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  auto regs = advance_to_syscall(t, ev, be.syscallno);
  if (!regs) return std::unexpected(regs.error());
  if (regs->ip() != untraced_ip_)
    return std::unexpected(divergence(
        ev, fmt::format("buffered syscall {} was made at {:#x}, not from the preload code",
                        syscalls::name(be.syscallno), regs->ip())));
  for (int i = 0; i < syscall_arg_count(be.syscallno); ++i) {
    if (regs->arg(i) != be.args[static_cast<size_t>(i)])
      return std::unexpected(divergence(
          ev, fmt::format("argument {} of buffered syscall {}: recorded {:#x}, replayed {:#x}", i,
                          syscalls::name(be.syscallno), be.args[static_cast<size_t>(i)],
                          regs->arg(i))));
  }
  // Signal dispositions and mask, and the address space (anonymous mmap,
  // munmap, mprotect, madvise, brk) live in the kernel: these run again.
  // (A buffered prlimit64 only reads a limit: emulated.)
  const bool runs = syscalls::replay_runs(be.syscallno) && be.syscallno != SYS_prlimit64;
  if (runs && be.result != RRL_SYSCALL_ABORTED) {
    trace::SyscallEvent sc;
    sc.syscallno = be.syscallno;
    sc.args = be.args;
    sc.regs = *regs;
    sc.regs.r.rax = static_cast<uint64_t>(be.result);
    const Registers before = *regs;
    RRL_TRY(execute_syscall(t, ev, sc, *regs));
    auto after = ptrace::get_regs(t.tid);
    if (!after) return std::unexpected(after.error());
    // mmap ran with the recorded address and MAP_FIXED: the task goes on
    // with the arguments it had (arch_prctl's new thread pointer stays).
    *regs = *after;
    regs->r.rdi = before.r.rdi;
    regs->r.r10 = before.r.r10;
  } else if (t.at_real_entry) {
    RRL_TRY(skip_real_entry(t));
  }
  RRL_TRY(write_all(t, be.writes));
  const uint8_t echo = be.flags & (trace::SyscallEvent::kToStdout | trace::SyscallEvent::kToStderr);
  if (echo != 0 && echo_) {
    trace::SyscallEvent sc;
    sc.syscallno = be.syscallno;
    sc.args = be.args;
    sc.flags = echo;
    sc.regs = *regs;
    sc.regs.r.rax = static_cast<uint64_t>(be.result);
    echo_output(t, sc);
  }
  // An aborted one (the recorder took it back) gets RRL_SYSCALL_ABORTED as
  // its recorded result, like any other result: the preload code then makes
  // it again through its traced syscall, the task's next event.
  regs->r.rax = static_cast<uint64_t>(be.result);
  RRL_TRY(ptrace::set_regs(t.tid, *regs));
  t.at_entry = false;
  return {};
}

Status ReplaySession::on_patch(const trace::Event& ev, const trace::PatchEvent& pe) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  if (pe.restart_ip == 0) return write_all(t, pe.writes);
  // Patched at the entry of a syscall, which the recorder cancelled: the task
  // goes back to the site and makes it again through the patch.
  auto regs = advance_to_syscall(t, ev, pe.restart_nr);
  if (!regs) return std::unexpected(regs.error());
  if (t.at_real_entry) RRL_TRY(skip_real_entry(t));
  RRL_TRY(write_all(t, pe.writes));
  regs->set_ip(pe.restart_ip);
  regs->r.rax = static_cast<uint64_t>(pe.restart_nr);
  RRL_TRY(ptrace::set_regs(t.tid, *regs));
  t.at_entry = false;
  return {};
}

}  // namespace rrl::replayer
