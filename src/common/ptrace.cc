#include "common/ptrace.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/log.h"
#include "common/scoped_fd.h"

namespace rrl::ptrace {

namespace {

const LogChannel kLog("ptrace");

const char* request_name(int req) {
  switch (req) {
    case PTRACE_SEIZE:
      return "SEIZE";
    case PTRACE_SETOPTIONS:
      return "SETOPTIONS";
    case PTRACE_CONT:
      return "CONT";
    case PTRACE_SYSCALL:
      return "SYSCALL";
    case PTRACE_SYSEMU:
      return "SYSEMU";
    case PTRACE_SINGLESTEP:
      return "SINGLESTEP";
    case PTRACE_LISTEN:
      return "LISTEN";
    case PTRACE_INTERRUPT:
      return "INTERRUPT";
    case PTRACE_KILL:
      return "KILL";
    case PTRACE_GETREGS:
      return "GETREGS";
    case PTRACE_SETREGS:
      return "SETREGS";
    case PTRACE_GETEVENTMSG:
      return "GETEVENTMSG";
    case PTRACE_GETSIGINFO:
      return "GETSIGINFO";
    case PTRACE_SETSIGINFO:
      return "SETSIGINFO";
    case PTRACE_PEEKUSER:
      return "PEEKUSER";
    case PTRACE_POKEUSER:
      return "POKEUSER";
    case PTRACE_SYSEMU_SINGLESTEP:
      return "SYSEMU_SINGLESTEP";
    case PTRACE_GETFPREGS:
      return "GETFPREGS";
    case PTRACE_GETREGSET:
      return "GETREGSET";
    case PTRACE_GET_SYSCALL_INFO:
      return "GET_SYSCALL_INFO";
    default:
      return "?";
  }
}

// The single ptrace(2) call site.
Expected<long> call(int req, pid_t tid, void* addr, void* data) {
  errno = 0;
  long ret = ::ptrace(static_cast<__ptrace_request>(req), tid, addr, data);
  int err = errno;
  kLog.debug(tid, "PTRACE_{}({}, {}) = {}{}", request_name(req), reinterpret_cast<uintptr_t>(addr),
             reinterpret_cast<uintptr_t>(data), ret, err ? std::string(" ") + strerror(err) : "");
  if (ret == -1 && err != 0) {
    if (err == ESRCH) return fail_errno("tracee " + std::to_string(tid) + " died", ESRCH);
    return fail_errno(std::string("PTRACE_") + request_name(req) + " of " + std::to_string(tid),
                      err);
  }
  return ret;
}

Status call_void(int req, pid_t tid, void* addr, void* data) {
  auto r = call(req, tid, addr, data);
  if (!r) return std::unexpected(r.error());
  return {};
}

void* sigarg(int sig) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(sig));
}

}  // namespace

Status seize(pid_t tid, unsigned long options) {
  return call_void(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(options));
}
Status set_options(pid_t tid, unsigned long options) {
  return call_void(PTRACE_SETOPTIONS, tid, nullptr, reinterpret_cast<void*>(options));
}
Status cont(pid_t tid, int sig) {
  return call_void(PTRACE_CONT, tid, nullptr, sigarg(sig));
}
Status syscall(pid_t tid, int sig) {
  return call_void(PTRACE_SYSCALL, tid, nullptr, sigarg(sig));
}
Status sysemu(pid_t tid, int sig) {
  return call_void(PTRACE_SYSEMU, tid, nullptr, sigarg(sig));
}
Status sysemu_singlestep(pid_t tid, int sig) {
  return call_void(PTRACE_SYSEMU_SINGLESTEP, tid, nullptr, sigarg(sig));
}
Status singlestep(pid_t tid, int sig) {
  return call_void(PTRACE_SINGLESTEP, tid, nullptr, sigarg(sig));
}
Status listen(pid_t tid) {
  return call_void(PTRACE_LISTEN, tid, nullptr, nullptr);
}
Status interrupt(pid_t tid) {
  return call_void(PTRACE_INTERRUPT, tid, nullptr, nullptr);
}
Status kill(pid_t tid) {
  return call_void(PTRACE_KILL, tid, nullptr, nullptr);
}

Expected<Registers> get_regs(pid_t tid) {
  Registers regs;
  RRL_TRY(call_void(PTRACE_GETREGS, tid, nullptr, &regs.r));
  // A 32-bit tracee runs with the compat code segment.
  regs.arch = regs.r.cs == 0x23 ? Arch::kX86 : Arch::kX86_64;
  return regs;
}

Status set_regs(pid_t tid, const Registers& regs) {
  auto copy = regs.r;
  return call_void(PTRACE_SETREGS, tid, nullptr, &copy);
}

Expected<unsigned long> get_event_msg(pid_t tid) {
  unsigned long msg = 0;
  RRL_TRY(call_void(PTRACE_GETEVENTMSG, tid, nullptr, &msg));
  return msg;
}

Expected<user_fpregs_struct> get_fpregs(pid_t tid) {
  user_fpregs_struct fp;
  std::memset(&fp, 0, sizeof fp);
  RRL_TRY(call_void(PTRACE_GETFPREGS, tid, nullptr, &fp));
  return fp;
}

Expected<std::vector<uint8_t>> get_xstate(pid_t tid) {
  std::vector<uint8_t> area(4096);
  struct iovec iov = {area.data(), area.size()};
  RRL_TRY(call_void(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov));
  area.resize(iov.iov_len);
  return area;
}

Expected<bool> syscall_stop_is_exit(pid_t tid) {
  __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  RRL_TRY(call_void(PTRACE_GET_SYSCALL_INFO, tid, reinterpret_cast<void*>(sizeof info), &info));
  return info.op == PTRACE_SYSCALL_INFO_EXIT;
}

Expected<siginfo_t> get_siginfo(pid_t tid) {
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  RRL_TRY(call_void(PTRACE_GETSIGINFO, tid, nullptr, &si));
  return si;
}

Status set_siginfo(pid_t tid, const siginfo_t& si) {
  siginfo_t copy = si;
  return call_void(PTRACE_SETSIGINFO, tid, nullptr, &copy);
}

Expected<uint64_t> peek_user(pid_t tid, uint64_t offset) {
  auto r = call(PTRACE_PEEKUSER, tid, reinterpret_cast<void*>(offset), nullptr);
  if (!r) return std::unexpected(r.error());
  return static_cast<uint64_t>(*r);
}

Status poke_user(pid_t tid, uint64_t offset, uint64_t value) {
  return call_void(PTRACE_POKEUSER, tid, reinterpret_cast<void*>(offset),
                   reinterpret_cast<void*>(value));
}

Status set_exec_breakpoints(pid_t tid, std::span<const uint64_t> addrs) {
  if (addrs.size() > 4) return fail("at most 4 hardware breakpoints");
  auto dr = [](size_t i) { return offsetof(struct user, u_debugreg) + i * sizeof(uint64_t); };
  RRL_TRY(poke_user(tid, dr(7), 0));
  uint64_t enable = 0;
  for (size_t i = 0; i < addrs.size(); ++i) {
    RRL_TRY(poke_user(tid, dr(i), addrs[i]));
    enable |= 1ULL << (2 * i);  // local enable; R/W and LEN 0: execution, one byte
  }
  return enable ? poke_user(tid, dr(7), enable) : Status{};
}

Expected<int> wait_status(pid_t tid, std::string_view what) {
  int status = 0;
  while (::waitpid(tid, &status, __WALL) < 0)
    if (errno != EINTR) return fail_errno("waitpid " + std::string(what));
  return status;
}

namespace {

Expected<ScopedFd> open_mem(pid_t tid, bool write) {
  std::string path = "/proc/" + std::to_string(tid) + "/mem";
  ScopedFd fd(::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("open " + path);
  return fd;
}

Status mem_io(int fd, RemoteAddr addr, void* buf, size_t len, bool write) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write ? ::pwrite(fd, static_cast<const char*>(buf) + done, len - done,
                                 static_cast<off_t>(addr.addr() + done))
                      : ::pread(fd, static_cast<char*>(buf) + done, len - done,
                                static_cast<off_t>(addr.addr() + done));
    if (n <= 0)
      return fail_errno(std::string(write ? "write" : "read") + " tracee memory at 0x" +
                            fmt::format("{:x}", addr.addr() + done),
                        n == 0 ? EIO : errno);
    done += static_cast<size_t>(n);
  }
  return {};
}

Status proc_mem_io(pid_t tid, RemoteAddr addr, void* buf, size_t len, bool write) {
  auto fd = open_mem(tid, write);
  if (!fd) return std::unexpected(fd.error());
  return mem_io(fd->get(), addr, buf, len, write);
}

}  // namespace

Status read_memory(pid_t tid, RemoteAddr addr, std::span<uint8_t> out) {
  if (out.empty()) return {};
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr.addr()), out.size()};
  ssize_t n = ::process_vm_readv(tid, &local, 1, &remote, 1, 0);
  if (n == static_cast<ssize_t>(out.size())) return {};
  return proc_mem_io(tid, addr, out.data(), out.size(), /*write=*/false);
}

Status write_memory(pid_t tid, RemoteAddr addr, std::span<const uint8_t> data) {
  if (data.empty()) return {};
  // Writable pages take the cheap way; code and other read-only pages (a
  // breakpoint, a patch) need /proc/PID/mem, which writes through protections.
  iovec local{const_cast<uint8_t*>(data.data()), data.size()};
  iovec remote{reinterpret_cast<void*>(addr.addr()), data.size()};
  if (::process_vm_writev(tid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(data.size()))
    return {};
  return proc_mem_io(tid, addr, const_cast<uint8_t*>(data.data()), data.size(), /*write=*/true);
}

Status write_code(pid_t tid, std::span<const RemoteWrite> writes) {
  if (writes.empty()) return {};
  auto fd = open_mem(tid, /*write=*/true);
  if (!fd) return std::unexpected(fd.error());
  for (const auto& w : writes)
    RRL_TRY(mem_io(fd->get(), w.addr, const_cast<uint8_t*>(w.data.data()), w.data.size(),
                   /*write=*/true));
  return {};
}

bool is_died(const Error& e) {
  return e.sys_errno == ESRCH;
}

}  // namespace rrl::ptrace
