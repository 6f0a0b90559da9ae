// Replaying syscalls: emulation from the trace, or the real thing for the
// few that shape the address space, the signal set-up or the task tree.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "common/syscalls.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

constexpr int64_t kERestartSys = 512, kERestartNoIntr = 513, kERestartNoHand = 514,
                  kERestartBlock = 516;

bool is_restart(int64_t r) {
  return r == -kERestartSys || r == -kERestartNoIntr || r == -kERestartNoHand ||
         r == -kERestartBlock;
}

bool is_error(int64_t r) {
  return r < 0 && r > -4096;
}

// Syscalls that wait with a temporary signal mask, which the kernel puts back
// only after the handler of the signal that ended the wait has been set up.
bool swaps_signal_mask(int64_t nr) {
  return nr == SYS_rt_sigsuspend || nr == SYS_ppoll || nr == SYS_pselect6;
}

// Syscalls after which the registers legitimately differ from those at entry.
bool changes_registers(int64_t nr) {
  return nr == SYS_rt_sigreturn || nr == SYS_execve || nr == SYS_execveat;
}

Status write_fully(int fd, const std::vector<uint8_t>& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_errno("write replayed output");
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

// Registers beyond a syscall's arguments may hold anything (a stale rdtsc
// value, say), so only the arguments it takes are compared.
int syscall_arg_count(int64_t nr) {
  switch (nr) {
    case SYS_getpid:
    case SYS_getppid:
    case SYS_gettid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getpgrp:
    case SYS_setsid:
    case SYS_sched_yield:
    case SYS_pause:
    case SYS_fork:
    case SYS_vfork:
    case SYS_sync:
    case SYS_inotify_init:
    case SYS_rt_sigreturn:
    case SYS_restart_syscall:
    case SYS_munlockall:
      return 0;
    case SYS_close:
    case SYS_dup:
    case SYS_exit:
    case SYS_exit_group:
    case SYS_brk:
    case SYS_alarm:
    case SYS_umask:
    case SYS_chdir:
    case SYS_fchdir:
    case SYS_rmdir:
    case SYS_unlink:
    case SYS_uname:
    case SYS_sysinfo:
    case SYS_time:
    case SYS_times:
    case SYS_pipe:
    case SYS_fsync:
    case SYS_fdatasync:
    case SYS_set_tid_address:
    case SYS_epoll_create:
    case SYS_epoll_create1:
    case SYS_eventfd:
    case SYS_inotify_init1:
    case SYS_getpgid:
    case SYS_getsid:
    case SYS_setuid:
    case SYS_setgid:
    case SYS_personality:
    case SYS_unshare:
    case SYS_acct:
    case SYS_chroot:
    case SYS_mlockall:
      return 1;
    case SYS_pipe2:
    case SYS_dup2:
    case SYS_munmap:
    case SYS_nanosleep:
    case SYS_gettimeofday:
    case SYS_clock_gettime:
    case SYS_clock_getres:
    case SYS_getrlimit:
    case SYS_setrlimit:
    case SYS_getrusage:
    case SYS_kill:
    case SYS_tkill:
    case SYS_listen:
    case SYS_shutdown:
    case SYS_fstat:
    case SYS_stat:
    case SYS_lstat:
    case SYS_access:
    case SYS_mkdir:
    case SYS_rename:
    case SYS_link:
    case SYS_symlink:
    case SYS_chmod:
    case SYS_fchmod:
    case SYS_truncate:
    case SYS_ftruncate:
    case SYS_flock:
    case SYS_getcwd:
    case SYS_arch_prctl:
    case SYS_set_robust_list:
    case SYS_sigaltstack:
    case SYS_eventfd2:
    case SYS_timerfd_create:
    case SYS_memfd_create:
    case SYS_getpriority:
    case SYS_setpgid:
    case SYS_setns:
    case SYS_setreuid:
    case SYS_setregid:
    case SYS_getgroups:
    case SYS_setgroups:
    case SYS_timer_getoverrun:
    case SYS_timer_delete:
    case SYS_capget:
    case SYS_capset:
      return 2;
    case SYS_read:
    case SYS_write:
    case SYS_open:
    case SYS_lseek:
    case SYS_mprotect:
    case SYS_ioctl:
    case SYS_readv:
    case SYS_writev:
    case SYS_madvise:
    case SYS_dup3:
    case SYS_socket:
    case SYS_connect:
    case SYS_accept:
    case SYS_bind:
    case SYS_getsockname:
    case SYS_getpeername:
    case SYS_execve:
    case SYS_fcntl:
    case SYS_getdents:
    case SYS_getdents64:
    case SYS_readlink:
    case SYS_chown:
    case SYS_fchown:
    case SYS_lchown:
    case SYS_getrandom:
    case SYS_tgkill:
    case SYS_rt_sigqueueinfo:
    case SYS_poll:
    case SYS_sched_getaffinity:
    case SYS_sched_setaffinity:
    case SYS_mkdirat:
    case SYS_unlinkat:
    case SYS_fchmodat:
    case SYS_faccessat:
    case SYS_setpriority:
    case SYS_getresuid:
    case SYS_getresgid:
    case SYS_setresuid:
    case SYS_setresgid:
    case SYS_timer_create:
    case SYS_signalfd:
    case SYS_inotify_add_watch:
    case SYS_mknod:
    case SYS_getcpu:
    case SYS_mincore:
    case SYS_msync:
    case SYS_membarrier:
    case SYS_close_range:
      return 3;
    default:
      return 6;
  }
}

Status ReplaySession::write_all(ReplayTask& t, const std::vector<trace::MemWrite>& writes) {
  for (const auto& w : writes) RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(w.addr), w.data));
  return {};
}

Status ReplaySession::on_syscall_entry(const trace::Event& ev, const trace::SyscallEntryEvent& se) {
  auto t = task_for(ev);
  if (!t) return std::unexpected(t.error());
  auto regs = advance_to_syscall(**t, ev, se.syscallno);
  if (!regs) return std::unexpected(regs.error());
  return {};
}

Status ReplaySession::on_syscall(const trace::Event& ev, const trace::SyscallEvent& sc) {
  auto tp = task_for(ev);
  if (!tp) return std::unexpected(tp.error());
  ReplayTask& t = **tp;
  if (t.at_event_stop) {
    // A syscall that runs for real (clone, execve) finishes now.
    RRL_TRY(ptrace::syscall(t.tid));
    t.at_event_stop = false;
    auto status = wait_filtered(t, Resume::kSyscall);
    if (!status) return std::unexpected(status.error());
    if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != (SIGTRAP | 0x80))
      return std::unexpected(
          divergence(ev, "the end of syscall " + syscalls::name(sc.syscallno) + " did not come"));
  } else {
    bool mask_wait = swaps_signal_mask(sc.syscallno) && is_restart(sc.regs.result());
    bool real = syscalls::replay_runs(sc.syscallno) && !(sc.flags & trace::SyscallEvent::kRefused);
    auto regs = advance_to_syscall(t, ev, sc.syscallno, /*for_real=*/real && !mask_wait);
    if (!regs) return std::unexpected(regs.error());
    if (!changes_registers(sc.syscallno)) {
      if (auto diff = compare_regs(sc.regs, *regs, syscall_arg_count(sc.syscallno)))
        return std::unexpected(
            divergence(ev, "registers at syscall " + syscalls::name(sc.syscallno) + ": " + *diff));
    }
    if (mask_wait)
      RRL_TRY(take_signal_with_mask(t, sc, *regs));
    else if (real)
      RRL_TRY(execute_syscall(t, ev, sc, *regs));
    else
      echo_output(t, sc);
    if (t.at_real_entry) RRL_TRY(skip_real_entry(t));
  }
  RRL_TRY(write_all(t, sc.writes));
  RRL_TRY(ptrace::set_regs(t.tid, sc.regs));
  t.at_entry = false;
  if (is_restart(sc.regs.result())) t.restart_result = sc.regs.result();
  return {};
}

Status ReplaySession::execute_syscall(ReplayTask& t, const trace::Event& ev,
                                      const trace::SyscallEvent& sc, Registers& regs) {
  int64_t want = sc.regs.result();
  if (sc.syscallno == SYS_prlimit64) {
    // Only a new limit for the task itself changes anything replay can see
    // (the stack limit decides where a stack overflow faults).
    if (sc.args[2] == 0 || (sc.args[0] != 0 && sc.args[0] != static_cast<uint64_t>(t.rec_tid)))
      return {};
    regs.r.rdi = 0;
  }
  if (sc.syscallno == SYS_mmap) {
    if (is_error(want)) return {};  // failed when recorded: nothing to reproduce
    if (!(sc.args[3] & MAP_ANONYMOUS)) return map_file(t, ev, sc, regs);
    regs.r.rdi = static_cast<uint64_t>(want);
    regs.r.r10 |= MAP_FIXED;
  }
  auto status = run_for_real(t, regs);
  if (!status) return std::unexpected(status.error());
  auto after = ptrace::get_regs(t.tid);
  if (!after) return std::unexpected(after.error());
  if (sc.syscallno == SYS_rt_sigreturn) {
    if (auto diff = compare_regs(sc.regs, *after))
      return std::unexpected(divergence(ev, "registers after rt_sigreturn: " + *diff));
  } else if (after->result() != want && sc.syscallno != SYS_set_tid_address) {
    // (set_tid_address answers with the caller's tid, which differs in replay.)
    return std::unexpected(divergence(
        ev, fmt::format("syscall {} returned {:#x} in the replay but {:#x} in the recording",
                        syscalls::name(sc.syscallno), after->result(), want)));
  }
  return {};
}

// A signal ended a wait with a temporary mask (sigsuspend, ppoll, pselect6).
// Emulating the wait would leave the signal blocked by the program's usual
// mask, so replay queues the signal first and runs the wait for real, with
// nothing to wait for but the signal: the kernel then swaps and restores the
// mask exactly as it did when recorded.
Status ReplaySession::take_signal_with_mask(ReplayTask& t, const trace::SyscallEvent& sc,
                                            Registers& regs) {
  auto next = peek_event();
  if (!next) return std::unexpected(next.error());
  const trace::SignalEvent* sig = *next ? std::get_if<trace::SignalEvent>(&(*next)->data) : nullptr;
  if (!sig || (*next)->tid != t.rec_tid || sig->deterministic) return {};
  if (::syscall(SYS_tgkill, t.tgid, t.tid, sig->signo) != 0)
    return fail_errno("send the recorded signal to the replayed task");
  if (sc.syscallno == SYS_ppoll) {
    regs.r.rdi = 0;  // no fds
    regs.r.rsi = 0;
    regs.r.rdx = 0;  // no timeout
  } else if (sc.syscallno == SYS_pselect6) {
    regs.r.rdi = regs.r.rsi = regs.r.rdx = regs.r.r10 = regs.r.r8 = 0;
  }
  auto status = run_for_real(t, regs);
  if (!status) return std::unexpected(status.error());
  t.signal_sent = sig->signo;
  return {};
}

// A file mapping becomes a private anonymous mapping at the recorded address,
// filled from the trace's copy of the file: replay needs neither the original
// file nor the descriptor the program used.
Status ReplaySession::map_file(ReplayTask& t, const trace::Event& ev, const trace::SyscallEvent& sc,
                               Registers& regs) {
  uint64_t start = static_cast<uint64_t>(sc.regs.result());
  std::optional<trace::MappingRecord> mapping;
  auto next = peek_event();
  if (!next) return std::unexpected(next.error());
  if (*next) {
    auto* mm = std::get_if<trace::MmapEvent>(&(*next)->data);
    if (mm && (*next)->tid == ev.tid && mm->mapping.start == start) {
      mapping = mm->mapping;
      if (!mm->mapping.trace_file.empty()) file_maps_[t.rec_tgid].push_back(mm->mapping);
      lookahead_.reset();
    }
  }
  if (mapping && shared_files_.contains(mapping->trace_file))
    return map_shared_file(t, ev, sc, regs, *mapping);
  regs.r.rdi = start;
  regs.r.r10 = (regs.r.r10 & ~static_cast<uint64_t>(MAP_SHARED | MAP_PRIVATE)) | MAP_PRIVATE |
               MAP_ANONYMOUS | MAP_FIXED;
  regs.r.r8 = static_cast<uint64_t>(-1);
  regs.r.r9 = 0;
  auto status = run_for_real(t, regs);
  if (!status) return std::unexpected(status.error());
  auto after = ptrace::get_regs(t.tid);
  if (!after) return std::unexpected(after.error());
  if (static_cast<uint64_t>(after->result()) != start)
    return std::unexpected(divergence(
        ev, fmt::format("mmap at {:#x} gave {:#x} in the replay", start, after->result())));
  if (!mapping || mapping->trace_file.empty()) return {};
  std::string path = reader_.file_path(mapping->trace_file);
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return fail_errno("open " + path + " (the trace's copy of " + mapping->path + ")");
  uint64_t len = sc.args[1];
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t done = 0; done < len;) {
    ssize_t n = ::pread(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), len - done),
                        static_cast<off_t>(sc.args[5] + done));
    if (n < 0) return fail_errno("read " + path);
    if (n == 0) break;  // past the end of the file: the mapping stays zero there
    RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(start + done),
                                 std::span<const uint8_t>(buf.data(), static_cast<size_t>(n))));
    done += static_cast<uint64_t>(n);
  }
  return {};
}

// A copy of a saved file that replay may write through MAP_SHARED mappings
// (the trace itself is never written).
Expected<std::string> ReplaySession::scratch_copy(const std::string& trace_file) {
  std::string copy = exec_links_->dir() + "/shared-" + trace_file;
  if (scratch_made_.insert(trace_file).second) {
    std::error_code ec;
    if (!std::filesystem::copy_file(reader_.file_path(trace_file), copy,
                                    std::filesystem::copy_options::overwrite_existing, ec))
      return fail("cannot copy " + trace_file + " for replay: " + ec.message());
  }
  return copy;
}

// Runs a syscall of replay's own in the task, which is stopped at a syscall
// (so a syscall instruction sits right before its ip): `at` are the task's
// registers there. Returns the result; the task is left at that syscall's exit.
Expected<int64_t> ReplaySession::inject_syscall(ReplayTask& t, const Registers& at, int64_t nr,
                                                std::initializer_list<uint64_t> args,
                                                bool from_sysemu_stop) {
  Registers regs = at;
  regs.r.orig_rax = static_cast<uint64_t>(nr);
  unsigned long long* slots[] = {&regs.r.rdi, &regs.r.rsi, &regs.r.rdx,
                                 &regs.r.r10, &regs.r.r8,  &regs.r.r9};
  size_t i = 0;
  for (uint64_t a : args) *slots[i++] = a;
  auto status = run_for_real(t, regs, from_sysemu_stop);
  if (!status) return std::unexpected(status.error());
  auto after = ptrace::get_regs(t.tid);
  if (!after) return std::unexpected(after.error());
  return after->result();
}

// A file that is also mapped MAP_SHARED is mapped for real, from one scratch
// copy per replay: opened in the task by an injected openat (its path written
// below the stack's red zone, whose bytes are put back), mapped, closed.
Status ReplaySession::map_shared_file(ReplayTask& t, const trace::Event& ev,
                                      const trace::SyscallEvent& sc, Registers& regs,
                                      const trace::MappingRecord& mapping) {
  auto copy = scratch_copy(mapping.trace_file);
  if (!copy) return std::unexpected(copy.error());
  Registers at = regs;
  uint64_t path_addr = (at.sp() - 256 - copy->size() - 1) & ~15ULL;
  std::vector<uint8_t> saved(copy->size() + 1);
  RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(path_addr), saved));
  std::vector<uint8_t> path(copy->begin(), copy->end());
  path.push_back(0);
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(path_addr), path));
  auto fd = inject_syscall(t, at, SYS_openat,
                           {static_cast<uint64_t>(AT_FDCWD), path_addr, O_RDWR | O_CLOEXEC},
                           /*from_sysemu_stop=*/true);
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(path_addr), saved));
  if (!fd) return std::unexpected(fd.error());
  if (*fd < 0) return fail_errno("open " + *copy + " in the replayed task", static_cast<int>(-*fd));
  uint64_t start = static_cast<uint64_t>(sc.regs.result());
  auto mapped = inject_syscall(t, at, SYS_mmap,
                               {start, sc.args[1], sc.args[2], sc.args[3] | MAP_FIXED,
                                static_cast<uint64_t>(*fd), sc.args[5]},
                               /*from_sysemu_stop=*/false);
  auto closed = inject_syscall(t, at, SYS_close, {static_cast<uint64_t>(*fd)},
                               /*from_sysemu_stop=*/false);
  if (!mapped) return std::unexpected(mapped.error());
  if (!closed) return std::unexpected(closed.error());
  if (static_cast<uint64_t>(*mapped) != start)
    return std::unexpected(divergence(
        ev,
        fmt::format("mmap of {} at {:#x} gave {:#x} in the replay", mapping.path, start, *mapped)));
  return {};
}

// Output the program wrote to rr-like's stdout or stderr is shown again, taken
// from the replayed program's memory, so a wrong replay shows wrong output.
void ReplaySession::echo_output(ReplayTask& t, const trace::SyscallEvent& sc) {
  int out_fd = (sc.flags & trace::SyscallEvent::kToStdout)   ? 1
               : (sc.flags & trace::SyscallEvent::kToStderr) ? 2
                                                             : -1;
  int64_t total = sc.regs.result();
  if (out_fd < 0 || total <= 0 || !echo_) return;
  if (!sc.output.empty()) {
    (void)write_fully(out_fd, sc.output);  // moved by the kernel, kept in the trace
    return;
  }
  if (sc.syscallno != SYS_write && sc.syscallno != SYS_pwrite64 && sc.syscallno != SYS_writev &&
      sc.syscallno != SYS_pwritev && sc.syscallno != SYS_pwritev2)
    return;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;  // (addr, len)
  if (sc.syscallno == SYS_write || sc.syscallno == SYS_pwrite64) {
    pieces.emplace_back(sc.args[1], static_cast<uint64_t>(total));
  } else {
    uint64_t left = static_cast<uint64_t>(total);
    for (uint64_t i = 0; i < sc.args[2] && left > 0; ++i) {
      iovec iov;
      std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(&iov), sizeof iov);
      if (!ptrace::read_memory(t.tid, RemoteAddr(sc.args[1] + i * sizeof iov), raw)) return;
      uint64_t n = std::min<uint64_t>(left, iov.iov_len);
      pieces.emplace_back(reinterpret_cast<uint64_t>(iov.iov_base), n);
      left -= n;
    }
  }
  for (auto [addr, len] : pieces) {
    std::vector<uint8_t> data(len);
    if (!ptrace::read_memory(t.tid, RemoteAddr(addr), data)) return;
    if (!write_fully(out_fd, data)) return;
  }
}

}  // namespace rrl::replayer
