#include "recorder/spawn.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/child_setup.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "preload/blob.h"

namespace rrl::recorder {

namespace {

Status check_executable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return fail_errno("cannot run '" + path + "'");
  if (S_ISDIR(st.st_mode)) return fail("cannot run '" + path + "': it is a directory");
  if (::access(path.c_str(), X_OK) != 0)
    return fail("cannot run '" + path + "': it is not executable (check its permissions)");
  return {};
}

// Every syscall stops the task (SECCOMP_RET_TRACE) except one made by the
// preload code's untraced syscall instruction, named by the address right
// after it. libseccomp cannot test the instruction pointer, hence raw BPF.
// Async-signal-safe: it runs in the forked child.
bool install_buffering_filter(uint64_t untraced_ip) {
  constexpr uint32_t kIpLow = offsetof(seccomp_data, instruction_pointer);
  constexpr uint32_t kIpHigh = kIpLow + 4;
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpLow),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(untraced_ip), 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpHigh),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(untraced_ip >> 32), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// Without buffering every syscall stops, whatever its address.
bool install_trace_all_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRACE(0));
  return ctx && seccomp_load(ctx) == 0;
}

// Runs in the forked child: never returns. Only async-signal-safe work plus
// libseccomp, which is fine because the parent is single-threaded.
// untraced_ip: 0 without syscall buffering.
[[noreturn]] void child_main(int go_fd, const char* path, char* const* argv, uint64_t untraced_ip) {
  char go = 0;
  while (::read(go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  if (go != 'g') _exit(127);
  ::close(go_fd);
  prepare_traced_child();
  bool filtered = untraced_ip ? install_buffering_filter(untraced_ip) : install_trace_all_filter();
  if (!filtered) {
    static const char msg[] = "rr-like: error: cannot install the seccomp filter\n";
    (void)!::write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  ::execv(path, argv);
  // Like a shell: say why, exit 126 (cannot execute) or 127 (not found). This
  // failed execve and the message are part of the recording.
  int err = errno;
  const char* parts[] = {"rr-like: error: cannot execute ", path, ": ", strerrordesc_np(err), "\n"};
  for (const char* part : parts) (void)!::write(2, part, std::strlen(part));
  _exit(err == ENOENT ? 127 : 126);
}

}  // namespace

Expected<std::string> resolve_program(const std::string& name) {
  if (name.empty()) return fail("no program given");
  if (name.find('/') != std::string::npos) {
    RRL_TRY(check_executable(name));
    return name;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::string first_found;
  while (true) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? std::string_view(".") : dir, name);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      if (first_found.empty()) first_found = candidate;
    }
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  if (!first_found.empty()) RRL_TRY(check_executable(first_found));
  return fail("cannot run '" + name + "': command not found in PATH");
}

unsigned long recorder_ptrace_options() {
  return PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
         PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
}

Expected<pid_t> spawn_traced(const std::string& path, const std::vector<std::string>& argv,
                             bool syscall_buffer) {
  uint64_t untraced_ip = syscall_buffer ? preload::untraced_end_address() : 0;
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail_errno("pipe");
  ScopedFd read_end(pipefd[0]), write_end(pipefd[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    write_end.release();
    child_main(read_end.release(), path.c_str(), cargv.data(), untraced_ip);
  }
  read_end.reset();
  if (auto st = ptrace::seize(pid, recorder_ptrace_options()); !st) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::unexpected(st.error());
  }
  // Attached: let the child go on to exec.
  char go = 'g';
  if (::write(write_end.get(), &go, 1) != 1) return fail_errno("start the recorded program");
  return pid;
}

}  // namespace rrl::recorder
