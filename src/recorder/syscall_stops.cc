// Syscall entry and exit stops: what the recorder saves of each syscall.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include "common/log.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "common/syscalls.h"
#include "recorder/mappings.h"
#include "recorder/session.h"
#include "vdso/vdso.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("recorder");

constexpr int64_t kERestartSys = 512, kERestartNoIntr = 513, kERestartNoHand = 514,
                  kERestartBlock = 516;

bool is_error_result(int64_t r) {
  return r < 0 && r > -4096;
}

bool is_interrupted_result(int64_t r) {
  return r == -kERestartSys || r == -kERestartNoIntr || r == -kERestartNoHand ||
         r == -kERestartBlock || r == -EINTR;
}

// Syscalls whose effect rr-like cannot reproduce, answered with ENOSYS instead.
// rseq: the kernel would write the current CPU into the program's memory at
// every preemption, which no trace could follow.
bool refused_syscall(int64_t nr) {
  return nr == SYS_rseq;
}

}  // namespace

Status Session::on_syscall_entry(Task& t) {
  t.slice_ms = kTimeSliceMs;  // it did more than spin
  auto regs = ptrace::get_regs(t.tid);
  if (!regs)
    return ptrace::is_died(regs.error()) ? Status{} : Status(std::unexpected(regs.error()));
  if (regs->arch == Arch::kX86)
    return fail(
        "32-bit (i386) programs cannot be recorded yet; the program switched to 32-bit mode");
  t.entry_regs = *regs;
  t.entry_nr = regs->syscallno();
  for (int i = 0; i < 6; ++i) t.entry_args[i] = regs->arg(i);
  t.refused = false;
  if ((regs->ip() & ~0xfffULL) == vdso::kVsyscallBase) {
    if (auto nr = vdso::vsyscall_number(regs->ip() - 0)) return emulate_vsyscall(t, *regs, *nr);
  }
  if (syscall_buffer_) {
    auto patched = patch_at_entry(t, *regs);
    if (!patched) return std::unexpected(patched.error());
    if (*patched) return {};
  }
  RRL_TRY(redeliver_deferred(t));  // interrupts this syscall as the original would have
  t.in_syscall = true;
  t.entry_marker_pending = true;
  pending_entries_.push_back(t.tid);
  if (refused_syscall(t.entry_nr)) {
    regs->r.orig_rax = static_cast<uint64_t>(-1);  // skip it; rax stays -ENOSYS
    regs->r.rax = static_cast<uint64_t>(-ENOSYS);
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
    t.refused = true;
  }
  RRL_TRY(resume(t, /*to_syscall_exit=*/true));
  if (syscalls::replay_runs(t.entry_nr) && t.state == TaskState::kInKernel) {
    exclusive_ = &t;
    exclusive_since_us_ = monotonic_us();
  }
  return {};
}

Status Session::on_syscall_exit(Task& t) {
  auto regs = ptrace::get_regs(t.tid);
  if (!regs)
    return ptrace::is_died(regs.error()) ? Status{} : Status(std::unexpected(regs.error()));
  t.in_syscall = false;
  // Back from a signal handler: the task stands where the handler returned
  // to now (at its exit, not its entry: in between, nothing is there yet).
  if (t.entry_nr == SYS_rt_sigreturn && !t.handler_returns.empty()) t.handler_returns.pop_back();
  trace::SyscallEvent ev;
  ev.syscallno = t.entry_nr;
  ev.args = t.entry_args;
  if (t.refused) {
    regs->r.rax = static_cast<uint64_t>(-ENOSYS);
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
    ev.flags |= trace::SyscallEvent::kRefused;
  }
  ev.regs = *regs;
  if (is_interrupted_result(regs->result())) ev.flags |= trace::SyscallEvent::kInterrupted;
  if (!t.refused) RRL_TRY(capture_outputs(t, ev));
  ev.flags |= output_echo_flags(t, ev);
  RRL_TRY(bump_fd_generation(t, ev));
  capture_kernel_output(t, ev);
  if (!t.refused) RRL_TRY(capture_shared_mappings(t, ev));
  RRL_TRY(record(t.tid, ev));
  RRL_TRY(record_new_mapping(t, ev));
  bool exec_done =
      (ev.syscallno == SYS_execve || ev.syscallno == SYS_execveat) && ev.regs.result() == 0;
  if (exec_done) {
    RRL_TRY(inject_preload(t));
    if (syscall_buffer_) RRL_TRY(apply_known_sites(t, nullptr));
  }
  if (syscall_buffer_) RRL_TRY(retry_pending_patches(t));
  t.boundary_regs = *regs;
  t.stepped = false;
  if (give_way(t)) return {};
  return resume(t, /*to_syscall_exit=*/false);
}

Status Session::capture_outputs(Task& t, trace::SyscallEvent& ev) {
  pid_t tid = t.tid;
  auto reader = [tid](uint64_t addr, void* buf, size_t len) {
    return ptrace::read_memory(tid, RemoteAddr(addr),
                               std::span<uint8_t>(static_cast<uint8_t*>(buf), len))
        .has_value();
  };
  auto outputs = syscalls::output_ranges(ev.syscallno, ev.args, ev.regs.result(), reader);
  if (!outputs.known) {
    ev.flags |= trace::SyscallEvent::kUnknown;
    if (warned_unknown_.insert(ev.syscallno).second)
      print_warning(fmt::format(
          "syscall {} ({}) is not in rr-like's syscall table; recording it without its memory "
          "effects, so replay may diverge",
          syscalls::name(ev.syscallno), ev.syscallno));
  }
  for (const auto& r : outputs.ranges) {
    trace::MemWrite w{r.addr, std::vector<uint8_t>(r.len)};
    if (auto st = ptrace::read_memory(tid, RemoteAddr(r.addr), w.data); !st) {
      kLog.debug(tid, "cannot read output range {:#x}+{}: {}", r.addr, r.len,
                 st.error().describe());
      continue;
    }
    ev.writes.push_back(std::move(w));
  }
  return {};
}

// Which of rr-like's own stdout/stderr (`std_files`) `fd` of task `tid` is,
// as an echo flag. Thread-safe: the trace's thread uses it too (syscallbuf.cc).
uint8_t std_file_flag(pid_t tid, uint64_t fd, const StdFiles& std_files) {
  struct stat st;
  if (::stat(fmt::format("/proc/{}/fd/{}", tid, fd).c_str(), &st) != 0) return 0;
  std::pair<uint64_t, uint64_t> id{st.st_dev, st.st_ino};
  bool out = id == std_files[0], err = id == std_files[1];
  // A terminal is often both: then the program's own fd number decides.
  if (out && err) return fd == 2 ? trace::SyscallEvent::kToStderr : trace::SyscallEvent::kToStdout;
  if (out) return trace::SyscallEvent::kToStdout;
  if (err) return trace::SyscallEvent::kToStderr;
  return 0;
}

uint8_t Session::std_file_flag(const Task& t, uint64_t fd) const {
  return recorder::std_file_flag(t.tid, fd, std_files_);
}

uint8_t Session::output_echo_flags(const Task& t, const trace::SyscallEvent& ev) const {
  if (ev.regs.result() <= 0) return 0;
  switch (ev.syscallno) {
    case SYS_write:
    case SYS_writev:
    case SYS_pwrite64:
    case SYS_pwritev:
    case SYS_pwritev2:
      return std_file_flag(t, ev.args[0]);
    case SYS_sendfile:
      return std_file_flag(t, ev.args[0]);
    case SYS_copy_file_range:
    case SYS_splice:
      return std_file_flag(t, ev.args[2]);
    default:
      return 0;
  }
}

// copy_file_range, sendfile and splice move data to the output inside the
// kernel. When the output is rr-like's stdout or stderr, read the same bytes
// back from the input file, at the offsets they were taken from, so that
// replay can show them.
void Session::capture_kernel_output(const Task& t, trace::SyscallEvent& ev) const {
  if (!(ev.flags & (trace::SyscallEvent::kToStdout | trace::SyscallEvent::kToStderr))) return;
  if (ev.syscallno != SYS_copy_file_range && ev.syscallno != SYS_sendfile &&
      ev.syscallno != SYS_splice)
    return;
  uint64_t in_fd = ev.syscallno == SYS_sendfile ? ev.args[1] : ev.args[0];
  uint64_t off_ptr = ev.syscallno == SYS_sendfile ? ev.args[2] : ev.args[1];
  auto len = static_cast<uint64_t>(ev.regs.result());
  std::string in_path = fmt::format("/proc/{}/fd/{}", t.tid, in_fd);
  ScopedFd in(::open(in_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return;
  // The input offset after the call: the updated *off_in, or the file position.
  uint64_t end = 0;
  if (off_ptr != 0) {
    std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(&end), sizeof end);
    if (!ptrace::read_memory(t.tid, RemoteAddr(off_ptr), raw)) return;
  } else {
    std::ifstream info(fmt::format("/proc/{}/fdinfo/{}", t.tid, in_fd));
    std::string key;
    while (info >> key && key != "pos:") {
    }
    if (!(info >> end)) return;
  }
  if (end < len) return;
  ev.output.resize(len);
  ssize_t n = ::pread(in.get(), ev.output.data(), len, static_cast<off_t>(end - len));
  ev.output.resize(n > 0 ? static_cast<size_t>(n) : 0);
}

bool is_write_family(int64_t nr) {
  return nr == SYS_write || nr == SYS_writev || nr == SYS_pwrite64 || nr == SYS_pwritev ||
         nr == SYS_pwritev2;
}

// A write() to a file that the process also maps MAP_SHARED changes that
// mapping's memory. Replay emulates the write, so the trace carries the
// mapping's new contents as memory the syscall wrote.
Status Session::capture_shared_mappings(const Task& t, trace::SyscallEvent& ev) {
  return capture_shared_mappings(t, ev.syscallno, ev.args[0], ev.regs.result(), ev.writes);
}

Status Session::capture_shared_mappings(const Task& t, int64_t nr, uint64_t fd, int64_t result,
                                        std::vector<trace::MemWrite>& writes) {
  if (!is_write_family(nr) || result <= 0 || !shared_file_maps_.contains(t.tgid)) return {};
  struct stat st;
  if (::stat(fmt::format("/proc/{}/fd/{}", t.tid, fd).c_str(), &st) != 0) return {};
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (const auto& m : *maps) {
    if (!m.shared || m.inode != st.st_ino || m.dev != st.st_dev) continue;
    trace::MemWrite w{m.start, std::vector<uint8_t>(m.end - m.start)};
    if (ptrace::read_memory(t.tid, RemoteAddr(m.start), w.data)) writes.push_back(std::move(w));
  }
  return {};
}

Status Session::record_new_mapping(Task& t, const trace::SyscallEvent& ev) {
  if (ev.syscallno != SYS_mmap || is_error_result(ev.regs.result())) return {};
  int flags = static_cast<int>(ev.args[3]);
  int fd = static_cast<int>(ev.args[4]);
  if ((flags & MAP_ANONYMOUS) || fd < 0) return {};
  std::string fd_path = fmt::format("/proc/{}/fd/{}", t.tid, fd);
  struct stat st;
  if (::stat(fd_path.c_str(), &st) != 0) return {};
  MapEntry m;
  m.start = static_cast<uint64_t>(ev.regs.result());
  m.end = m.start + ((ev.args[1] + 4095) & ~4095ULL);
  m.offset = ev.args[5];
  m.prot = static_cast<uint32_t>(ev.args[2]);
  m.shared = (flags & MAP_SHARED) != 0;
  m.dev = st.st_dev;
  m.inode = st.st_ino;
  char target[4096];
  ssize_t n = ::readlink(fd_path.c_str(), target, sizeof target - 1);
  m.path = n > 0 ? std::string(target, static_cast<size_t>(n)) : fd_path;
  if (!S_ISREG(st.st_mode)) return {};  // device or special file: nothing to keep
  if (m.shared) shared_file_maps_.insert(t.tgid);
  auto rec = save_mapping(writer_, m, fd_path);
  if (!rec)
    return fail("cannot save mapped file " + m.path + " into the trace: " + rec.error().describe());
  RRL_TRY(record(t.tid, trace::MmapEvent{*rec}));
  if (syscall_buffer_ && (m.prot & PROT_EXEC)) return apply_known_sites(t, &m);
  return {};
}

// Calls into the legacy vsyscall page are emulated by the kernel after a
// seccomp stop, with no syscall-exit stop. We answer them ourselves, make the
// kernel skip its own emulation, and record the answer as a syscall.
Status Session::emulate_vsyscall(Task& t, Registers& regs, int64_t nr) {
  trace::SyscallEvent ev;
  ev.syscallno = nr;
  ev.args = t.entry_args;
  int64_t result = 0;
  auto put = [&](uint64_t addr, const void* p, size_t len) -> Status {
    if (addr == 0) return {};
    std::span<const uint8_t> bytes(static_cast<const uint8_t*>(p), len);
    RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(addr), bytes));
    ev.writes.push_back({addr, std::vector<uint8_t>(bytes.begin(), bytes.end())});
    return {};
  };
  if (nr == SYS_gettimeofday) {
    timeval tv;
    struct timezone tz;
    ::gettimeofday(&tv, &tz);
    RRL_TRY(put(regs.arg(0), &tv, sizeof tv));
    RRL_TRY(put(regs.arg(1), &tz, sizeof tz));
  } else if (nr == SYS_time) {
    time_t now = ::time(nullptr);
    RRL_TRY(put(regs.arg(0), &now, sizeof now));
    result = now;
  } else {
    unsigned cpu = 0, node = 0;
    ::getcpu(&cpu, &node);
    RRL_TRY(put(regs.arg(0), &cpu, sizeof cpu));
    RRL_TRY(put(regs.arg(1), &node, sizeof node));
  }
  regs.r.orig_rax = static_cast<uint64_t>(-1);
  regs.r.rax = static_cast<uint64_t>(result);
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  ev.regs = regs;
  RRL_TRY(record(t.tid, ev));
  return resume(t, /*to_syscall_exit=*/false);
}

}  // namespace rrl::recorder
