// The only place in rr-like that calls ptrace(2). Every request is logged on the
// "ptrace" channel; ESRCH becomes a "tracee died" error so callers can tell a
// vanished task from a bug.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/registers.h"
#include "common/remote_ptr.h"

namespace rrl::ptrace {

inline constexpr int kTraceeDied = ESRCH;

Status seize(pid_t tid, unsigned long options);
Status set_options(pid_t tid, unsigned long options);
Status cont(pid_t tid, int sig = 0);
Status syscall(pid_t tid, int sig = 0);  // resume, stop at next syscall entry/exit
Status sysemu(pid_t tid, int sig = 0);
Status singlestep(pid_t tid, int sig = 0);
Status sysemu_singlestep(pid_t tid, int sig = 0);
Status listen(pid_t tid);
Status interrupt(pid_t tid);
Status kill(pid_t tid);
Expected<Registers> get_regs(pid_t tid);
Status set_regs(pid_t tid, const Registers& regs);
Expected<unsigned long> get_event_msg(pid_t tid);
Expected<siginfo_t> get_siginfo(pid_t tid);
Expected<user_fpregs_struct> get_fpregs(pid_t tid);
// The XSAVE area (NT_X86_XSTATE), as long as the kernel fills it.
Expected<std::vector<uint8_t>> get_xstate(pid_t tid);
// At a syscall stop: whether it is the exit stop (PTRACE_GET_SYSCALL_INFO).
Expected<bool> syscall_stop_is_exit(pid_t tid);
Status set_siginfo(pid_t tid, const siginfo_t& si);
Expected<uint64_t> peek_user(pid_t tid, uint64_t offset);
Status poke_user(pid_t tid, uint64_t offset, uint64_t value);
// Execution breakpoints in the debug registers (DR0 up to DR3): a task that
// reaches one of `addrs` stops with SIGTRAP (si_code TRAP_HWBKPT) before
// running it. An empty span turns them all off.
Status set_exec_breakpoints(pid_t tid, std::span<const uint64_t> addrs);
// The next wait status of tid (waitpid with __WALL, again after EINTR);
// `what` names the wait in the error.
Expected<int> wait_status(pid_t tid, std::string_view what);

// Memory access. read_memory uses process_vm_readv and falls back to
// /proc/TID/mem; write_memory uses /proc/TID/mem (which, like PTRACE_POKEDATA,
// may write to read-only mappings such as code and the vdso).
Status read_memory(pid_t tid, RemoteAddr addr, std::span<uint8_t> out);
Status write_memory(pid_t tid, RemoteAddr addr, std::span<const uint8_t> data);
// Writes to code or other read-only memory (patches, breakpoints) go straight
// to /proc/TID/mem, opened once for all of them.
struct RemoteWrite {
  RemoteAddr addr;
  std::span<const uint8_t> data;
};
Status write_code(pid_t tid, std::span<const RemoteWrite> writes);

bool is_died(const Error& e);

}  // namespace rrl::ptrace
