#include "replayer/exec_link.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <iterator>

#include "common/child_setup.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "vdso/vdso.h"

namespace rrl::replayer {

namespace {

// Length of the path the recorded execve was given: AT_EXECFN points at it,
// just below the top 8 bytes of the initial stack.
Expected<size_t> recorded_path_length(const trace::ExecEvent& ex) {
  auto execfn = vdso::auxv_lookup(ex.auxv, AT_EXECFN);
  uint64_t stack_end = 0;
  for (const auto& m : ex.mappings)
    if (m.path == "[stack]") stack_end = m.end;
  if (!execfn || stack_end == 0 || *execfn + 9 > stack_end)
    return fail("the trace does not describe the program's initial stack");
  return static_cast<size_t>(stack_end - 8 - *execfn - 1);
}

// Calls into the legacy vsyscall page are emulated by the kernel without a
// syscall, so PTRACE_SYSEMU never sees them; the kernel does consult seccomp.
// This filter traces exactly those (instruction pointer in the vsyscall page)
// and allows every real syscall, which SYSEMU stops before seccomp anyway.
bool stop_at_vsyscalls() {
  constexpr uint32_t kIpLow = offsetof(seccomp_data, instruction_pointer);
  static sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpLow + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpLow),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0xff600000, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

ExecLinks::~ExecLinks() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status ExecLinks::ensure_dir() {
  if (!dir_.empty()) return {};
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/rr-like-replay-XXXXXX";
  if (!::mkdtemp(templ.data())) return fail_errno("create a directory for replay in " + templ);
  dir_ = templ;
  return {};
}

Expected<std::string> ExecLinks::link_for(const trace::ExecEvent& ex, const std::string& target,
                                          const std::string& interp,
                                          std::optional<InterpPatch>* patch) {
  RRL_TRY(ensure_dir());
  // One copy per saved executable (make runs cc1 many times).
  auto cached = copies_.find(target);
  if (cached == copies_.end()) {
    std::string copy_name = "exe-" + std::to_string(copies_.size());
    if (interp.empty()) {
      // The system's loader is the recorded one: exec the trace's file as is.
      cached = copies_.emplace(target, std::make_pair(target, std::nullopt)).first;
    } else {
      auto made = make_exec_copy(target, interp, dir_, copy_name);
      if (!made) return std::unexpected(made.error());
      cached = copies_.emplace(target, std::make_pair(dir_ + "/" + copy_name, *made)).first;
    }
  }
  const std::string& copy_path = cached->second.first;
  *patch = cached->second.second;
  auto len = recorded_path_length(ex);
  if (!len) return std::unexpected(len.error());
  if (*len == 0) return fail("the recorded exec path is empty");
  // Components of at most 200 characters: a name longer than NAME_MAX becomes
  // a chain of directories.
  std::string rel;
  size_t left = *len;
  while (left > 200) {
    rel += std::string(199, 'd');
    std::string path = dir_ + "/" + rel;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir " + path);
    rel += "/";
    left -= 200;
  }
  rel += std::string(left, 'x');
  std::string link = dir_ + "/" + rel, tmp = dir_ + "/.new-link";
  ::unlink(tmp.c_str());
  if (::symlink(copy_path.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0)
    return fail_errno("link " + link + " to " + copy_path);
  return rel;
}

Expected<pid_t> spawn_replay_child(const std::string& dir, const std::string& name,
                                   const std::vector<std::string>& argv,
                                   const std::vector<std::string>& envp) {
  std::vector<char*> cargv, cenvp;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envp) cenvp.push_back(const_cast<char*>(e.c_str()));
  cenvp.push_back(nullptr);
  int pipefd[2], errfd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0 || ::pipe2(errfd, O_CLOEXEC) != 0) return fail_errno("pipe");
  ScopedFd read_end(pipefd[0]), write_end(pipefd[1]);
  // The child reports why its set-up failed through err_write; a successful
  // exec closes it (O_CLOEXEC) without a word.
  ScopedFd err_read(errfd[0]), err_write(errfd[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    char go = 0;
    while (::read(read_end.get(), &go, 1) < 0 && errno == EINTR) {
    }
    if (go != 'g') _exit(127);
    prepare_traced_child();
    if (!stop_at_vsyscalls()) _exit(127);
    // The replayed program touches nothing outside: its I/O is emulated.
    int null_fd = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null_fd, fd);
    if (null_fd > 2) ::close(null_fd);
    int err = 0;
    if (::chdir(dir.c_str()) != 0)
      err = errno;
    else
      ::execve(name.c_str(), cargv.data(), cenvp.data());
    if (err == 0) err = errno;
    (void)!::write(err_write.get(), &err, sizeof err);
    _exit(127);
  }
  read_end.reset();
  unsigned long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                          PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
                          PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
  if (auto st = ptrace::seize(pid, options); !st) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::unexpected(st.error());
  }
  char go = 'g';
  if (::write(write_end.get(), &go, 1) != 1) return fail_errno("start the replayed program");
  err_write.reset();
  int err = 0;
  if (::read(err_read.get(), &err, sizeof err) == sizeof err) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, __WALL);
    return fail_errno("cannot start the replayed program (exec of " + dir + "/" + name + ")", err);
  }
  return pid;
}

}  // namespace rrl::replayer
