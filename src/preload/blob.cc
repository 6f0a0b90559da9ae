#include "preload/blob.h"

#include <sys/syscall.h>

// Defined by the linker for the section that preload.c is compiled into.
extern "C" const uint8_t __start_rrl_preload_text[];
extern "C" const uint8_t __stop_rrl_preload_text[];
extern "C" const uint8_t rrl_syscall_entry[];
extern "C" const uint8_t rrl_untraced_end[];
extern "C" const uint8_t rrl_entry_resume[];
extern "C" const uint8_t rrl_untraced[];

namespace rrl::preload {

namespace {

uint64_t address_of(const uint8_t* symbol) {
  return kBase + static_cast<uint64_t>(symbol - __start_rrl_preload_text);
}

}  // namespace

std::span<const uint8_t> code() {
  return {__start_rrl_preload_text,
          static_cast<size_t>(__stop_rrl_preload_text - __start_rrl_preload_text)};
}

uint64_t entry_address() {
  return address_of(rrl_syscall_entry);
}

uint64_t untraced_end_address() {
  return address_of(rrl_untraced_end);
}

uint64_t entry_resume_address() {
  return address_of(rrl_entry_resume);
}

uint64_t untraced_address() {
  return address_of(rrl_untraced);
}

const std::set<int64_t>& buffered_syscalls() {
  static const std::set<int64_t> kBuffered = {
      SYS_read,
      SYS_write,
      SYS_pread64,
      SYS_pwrite64,
      SYS_clock_gettime,
      SYS_gettimeofday,
      SYS_time,
      SYS_fstat,
      SYS_newfstatat,
      SYS_lseek,
      SYS_getpid,
      SYS_getppid,
      SYS_gettid,
      SYS_getuid,
      SYS_geteuid,
      SYS_getgid,
      SYS_getegid,
      SYS_getdents64,
      SYS_close,
      SYS_fcntl,
      SYS_openat,
      SYS_fadvise64,
      SYS_ioctl,
      SYS_unlinkat,
      SYS_mkdirat,
      SYS_stat,
      SYS_lstat,
      SYS_readlink,
      SYS_readlinkat,
      SYS_getcwd,
      SYS_access,
      SYS_faccessat,
      SYS_faccessat2,
      SYS_unlink,
      SYS_rmdir,
      SYS_mkdir,
      SYS_rename,
      SYS_renameat,
      SYS_renameat2,
      SYS_chmod,
      SYS_fchmod,
      SYS_fchmodat,
      SYS_utimensat,
      SYS_uname,
      SYS_sysinfo,
      SYS_getrusage,
      SYS_prlimit64,
      SYS_copy_file_range,
      SYS_rt_sigaction,
      SYS_rt_sigprocmask,
      // Replay runs these again (anonymous mmap only).
      SYS_mmap,
      SYS_munmap,
      SYS_mprotect,
      SYS_madvise,
      SYS_brk,
      SYS_set_tid_address,
      SYS_set_robust_list,
      SYS_arch_prctl,
      // Those that may block (the recorder takes them back when they do).
      SYS_writev,
      SYS_futex,
      SYS_poll,
      SYS_ppoll,
      SYS_epoll_wait,
      SYS_epoll_pwait,
      SYS_accept,
      SYS_accept4,
      SYS_recvfrom,
      SYS_sendto,
      SYS_sendmsg,
      SYS_getrandom,
  };
  return kBuffered;
}

}  // namespace rrl::preload
