// The x86-64 syscall table: names, numbers and output ranges. A fake tracee
// memory serves the structures that the table reads at syscall exit.
#include <asm/prctl.h>
#include <asm/termbits.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "common/syscalls.h"

using namespace rrl::syscalls;

namespace {

// Tracee memory made of separate regions; reads outside them fail.
class FakeMemory {
 public:
  template <typename T>
  void put(uint64_t addr, const T& value) {
    std::vector<uint8_t> bytes(sizeof(T));
    std::memcpy(bytes.data(), &value, sizeof(T));
    regions_[addr] = std::move(bytes);
  }
  MemReader reader() const {
    return [this](uint64_t addr, void* buf, size_t len) {
      for (const auto& [start, bytes] : regions_) {
        if (addr >= start && addr + len <= start + bytes.size()) {
          std::memcpy(buf, bytes.data() + (addr - start), len);
          return true;
        }
      }
      return false;
    };
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> regions_;
};

struct Iovec {
  uint64_t base, len;
};
struct Msghdr {
  uint64_t name;
  uint32_t namelen, pad0;
  uint64_t iov, iovlen, control, controllen;
  int32_t flags, pad1;
};
struct Mmsghdr {
  Msghdr hdr;
  uint32_t len, pad;
};
static_assert(sizeof(Msghdr) == 56 && sizeof(Mmsghdr) == 64);

const MemReader kNoMemory = [](uint64_t, void*, size_t) { return false; };

Outputs call(int64_t nr, SyscallArgs args, int64_t result, const MemReader& read = kNoMemory) {
  return output_ranges(nr, args, result, read);
}

using Ranges = std::vector<OutputRange>;

}  // namespace

TEST_CASE("syscall names and numbers round trip through libseccomp", "[syscalls]") {
  CHECK(name(0) == "read");
  CHECK(name(1) == "write");
  CHECK(name(257) == "openat");
  CHECK(name(217) == "getdents64");
  CHECK(name(332) == "statx");
  CHECK(number("read") == 0);
  CHECK(number("write") == 1);
  CHECK(number("openat") == 257);
  CHECK(number("getdents64") == 217);
  CHECK(number("statx") == 332);
  for (int64_t nr : {0, 1, 59, 231, 257, 435}) CHECK(number(name(nr)) == nr);
}

TEST_CASE("unknown syscall names and numbers", "[syscalls]") {
  CHECK(name(100000) == "syscall_100000");
  CHECK(name(-1) == "syscall_-1");
  CHECK_FALSE(number("no_such_syscall").has_value());
  CHECK_FALSE(number("socketcall").has_value());  // exists on i386 only
  CHECK_FALSE(number("").has_value());
}

TEST_CASE("a syscall outside the table is unknown", "[syscalls]") {
  for (int64_t nr : {int64_t{100000}, int64_t{-1}, int64_t{511}, int64_t{0x40000000}}) {
    Outputs out = call(nr, {0x1000, 0x2000, 0x3000, 0, 0, 0}, 0);
    CHECK_FALSE(out.known);
    CHECK(out.ranges.empty());
    CHECK_FALSE(is_known(nr));
  }
  CHECK(is_known(SYS_read));
  CHECK(is_known(SYS_write));  // writes nothing, still in the table
}

TEST_CASE("read records the bytes returned", "[syscalls]") {
  Outputs out = call(SYS_read, {3, 0x7000, 4096, 0, 0, 0}, 10);
  CHECK(out.known);
  CHECK(out.ranges == Ranges{{0x7000, 10}});
  CHECK(call(SYS_read, {3, 0x7000, 4096, 0, 0, 0}, -EAGAIN).ranges.empty());
  CHECK(call(SYS_read, {3, 0x7000, 4096, 0, 0, 0}, 0).ranges.empty());
  CHECK(call(SYS_pread64, {3, 0x7000, 4096, 0, 0, 0}, 7).ranges == Ranges{{0x7000, 7}});
  CHECK(call(SYS_write, {1, 0x7000, 4096, 0, 0, 0}, 4096).ranges.empty());
}

TEST_CASE("absurd sizes are capped and flagged", "[syscalls]") {
  Outputs out = call(SYS_read, {3, 0x7000, uint64_t{3} << 30, 0, 0, 0}, int64_t{3} << 30);
  CHECK_FALSE(out.known);
  CHECK(out.ranges == Ranges{{0x7000, kMaxRangeLen}});
}

TEST_CASE("readv records exactly the written part of the iovecs", "[syscalls]") {
  FakeMemory mem;
  std::array<Iovec, 3> iov{{{0x10000, 100}, {0x20000, 100}, {0x30000, 100}}};
  mem.put(0x5000, iov);
  Outputs out = call(SYS_readv, {3, 0x5000, 3, 0, 0, 0}, 150, mem.reader());
  CHECK(out.known);
  CHECK(out.ranges == Ranges{{0x10000, 100}, {0x20000, 50}});
  CHECK(call(SYS_preadv, {3, 0x5000, 3, 0, 0, 0}, 300, mem.reader()).ranges ==
        Ranges{{0x10000, 100}, {0x20000, 100}, {0x30000, 100}});
  Outputs unreadable = call(SYS_readv, {3, 0x9000, 3, 0, 0, 0}, 150, mem.reader());
  CHECK_FALSE(unreadable.known);
  CHECK(unreadable.ranges.empty());
}

TEST_CASE("recvmsg records msghdr, name, data and control", "[syscalls]") {
  FakeMemory mem;
  std::array<Iovec, 2> iov{{{0x10000, 8}, {0x20000, 64}}};
  mem.put(0x6000, iov);
  // As the kernel leaves it: namelen and controllen hold the lengths written.
  Msghdr msg{0x8000, 16, 0, 0x6000, 2, 0x9000, 24, 0, 0};
  mem.put(0x5000, msg);
  Outputs out = call(SYS_recvmsg, {3, 0x5000, 0, 0, 0, 0}, 20, mem.reader());
  CHECK(out.known);
  CHECK(out.ranges ==
        Ranges{{0x5000, 56}, {0x8000, 16}, {0x10000, 8}, {0x20000, 12}, {0x9000, 24}});

  Msghdr bare{0, 0, 0, 0x6000, 2, 0, 0, 0, 0};
  mem.put(0x5000, bare);
  CHECK(call(SYS_recvmsg, {3, 0x5000, 0, 0, 0, 0}, 4, mem.reader()).ranges ==
        Ranges{{0x5000, 56}, {0x10000, 4}});
  CHECK(call(SYS_recvmsg, {3, 0x5000, 0, 0, 0, 0}, -EAGAIN, mem.reader()).ranges.empty());
}

TEST_CASE("recvmmsg and sendmmsg record each message's msg_len", "[syscalls]") {
  FakeMemory mem;
  mem.put(0x6000, Iovec{0x10000, 100});
  mem.put(0x6100, Iovec{0x20000, 100});
  std::array<Mmsghdr, 3> vec{};
  vec[0] = {{0, 0, 0, 0x6000, 1, 0, 0, 0, 0}, 30, 0};
  vec[1] = {{0, 0, 0, 0x6100, 1, 0, 0, 0, 0}, 5, 0};
  mem.put(0x5000, vec);
  Outputs out = call(SYS_recvmmsg, {3, 0x5000, 3, 0, 0x7000, 0}, 2, mem.reader());
  CHECK(out.known);
  CHECK(out.ranges == Ranges{{0x5000, 56},
                             {0x10000, 30},
                             {0x5000 + 56, 4},
                             {0x5040, 56},
                             {0x20000, 5},
                             {0x5040 + 56, 4},
                             {0x7000, 16}});
  CHECK(call(SYS_sendmmsg, {3, 0x5000, 3, 0, 0, 0}, 2).ranges ==
        Ranges{{0x5000 + 56, 4}, {0x5040 + 56, 4}});
}

TEST_CASE("socket addresses are bounded by *addrlen and sockaddr_storage", "[syscalls]") {
  FakeMemory mem;
  mem.put(0x5000, uint32_t{16});
  CHECK(call(SYS_recvfrom, {3, 0x7000, 512, 0, 0x8000, 0x5000}, 64, mem.reader()).ranges ==
        Ranges{{0x7000, 64}, {0x5000, 4}, {0x8000, 16}});
  CHECK(call(SYS_recvfrom, {3, 0x7000, 512, 0, 0, 0}, 64, mem.reader()).ranges ==
        Ranges{{0x7000, 64}});
  mem.put(0x5000, uint32_t{4000});
  CHECK(call(SYS_accept4, {3, 0x8000, 0x5000, 0, 0, 0}, 4, mem.reader()).ranges ==
        Ranges{{0x5000, 4}, {0x8000, 128}});
  CHECK(call(SYS_getsockopt, {3, 1, 4, 0x8000, 0x5000, 0}, 0, mem.reader()).ranges ==
        Ranges{{0x5000, 4}, {0x8000, 4000}});
  CHECK(call(SYS_socketpair, {1, 1, 0, 0x9000, 0, 0}, 0).ranges == Ranges{{0x9000, 8}});
}

TEST_CASE("stat family sizes", "[syscalls]") {
  CHECK(call(SYS_stat, {0x1000, 0x2000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 144}});
  CHECK(call(SYS_fstat, {3, 0x2000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 144}});
  CHECK(call(SYS_lstat, {0x1000, 0x2000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 144}});
  CHECK(call(SYS_newfstatat, {3, 0x1000, 0x2000, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 144}});
  CHECK(call(SYS_statx, {3, 0x1000, 0, 0x7ff, 0x2000, 0}, 0).ranges == Ranges{{0x2000, 256}});
  CHECK(call(SYS_statfs, {0x1000, 0x2000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 120}});
  CHECK(call(SYS_fstatfs, {3, 0x2000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x2000, 120}});
  CHECK(call(SYS_stat, {0x1000, 0x2000, 0, 0, 0, 0}, -ENOENT).ranges.empty());
}

TEST_CASE("ioctl commands", "[syscalls]") {
  auto ioctl = [](uint64_t cmd, int64_t result = 0) {
    return call(SYS_ioctl, {0, cmd, 0x4000, 0, 0, 0}, result);
  };
  CHECK(ioctl(TIOCGWINSZ).ranges == Ranges{{0x4000, 8}});
  CHECK(ioctl(TCGETS).ranges == Ranges{{0x4000, sizeof(struct termios)}});
  CHECK(ioctl(TCGETS).ranges == Ranges{{0x4000, 36}});
  CHECK(ioctl(FIONREAD).ranges == Ranges{{0x4000, 4}});
  CHECK(ioctl(TIOCGPTN).ranges == Ranges{{0x4000, 4}});
  CHECK(ioctl(TCGETS2).ranges == Ranges{{0x4000, sizeof(struct termios2)}});
  CHECK(ioctl(FS_IOC_GETFLAGS).ranges == Ranges{{0x4000, 4}});
  CHECK(ioctl(TIOCGWINSZ, -ENOTTY).ranges.empty());
  for (uint64_t silent :
       std::initializer_list<uint64_t>{TCSETS, TCSETSW, FIONBIO, FIOCLEX, TIOCSWINSZ, FICLONE}) {
    Outputs out = ioctl(silent);
    CHECK(out.known);
    CHECK(out.ranges.empty());
  }
  Outputs legacy = ioctl(0x54ff);  // no direction bits and not in the table
  CHECK_FALSE(legacy.known);
  CHECK(legacy.ranges.empty());
  CHECK(ioctl(_IOWR('z', 1, uint64_t[4])).ranges == Ranges{{0x4000, 32}});
}

TEST_CASE("sleeps and polls write even when interrupted", "[syscalls]") {
  constexpr int64_t kRestartBlock = -516;
  CHECK(call(SYS_nanosleep, {0x1000, 0x2000, 0, 0, 0, 0}, -EINTR).ranges == Ranges{{0x2000, 16}});
  CHECK(call(SYS_clock_nanosleep, {1, 0, 0x1000, 0x2000, 0, 0}, kRestartBlock).ranges ==
        Ranges{{0x2000, 16}});
  CHECK(call(SYS_nanosleep, {0x1000, 0x2000, 0, 0, 0, 0}, -EINVAL).ranges.empty());
  CHECK(call(SYS_read, {0, 0x2000, 10, 0, 0, 0}, -EINTR).ranges.empty());
  CHECK(call(SYS_poll, {0x3000, 4, 100, 0, 0, 0}, -EINTR).ranges == Ranges{{0x3000, 32}});
  CHECK(call(SYS_ppoll, {0x3000, 2, 0x4000, 0, 8, 0}, 1).ranges ==
        Ranges{{0x3000, 16}, {0x4000, 16}});
  // nfds 65 needs two longs per set; null sets are skipped.
  CHECK(call(SYS_select, {65, 0x1000, 0, 0x3000, 0x4000, 0}, 1).ranges ==
        Ranges{{0x1000, 16}, {0x3000, 16}, {0x4000, 16}});
  CHECK(call(SYS_epoll_wait, {4, 0x5000, 64, ~0ull, 0, 0}, 3).ranges == Ranges{{0x5000, 36}});
}

TEST_CASE("process, time and signal outputs", "[syscalls]") {
  CHECK(call(SYS_wait4, {~0ull, 0x1000, 0, 0, 0, 0}, 42).ranges == Ranges{{0x1000, 4}});
  CHECK(call(SYS_waitid, {0, 0, 0x1000, 4, 0x2000, 0}, 0).ranges ==
        Ranges{{0x1000, 128}, {0x2000, 144}});
  CHECK(call(SYS_clock_gettime, {1, 0x1000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 16}});
  CHECK(call(SYS_gettimeofday, {0x1000, 0x2000, 0, 0, 0, 0}, 0).ranges ==
        Ranges{{0x1000, 16}, {0x2000, 8}});
  CHECK(call(SYS_time, {0, 0, 0, 0, 0, 0}, 1700000000).ranges.empty());
  CHECK(call(SYS_uname, {0x1000, 0, 0, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 390}});
  CHECK(call(SYS_rt_sigaction, {2, 0x1000, 0x2000, 8, 0, 0}, 0).ranges == Ranges{{0x2000, 32}});
  CHECK(call(SYS_rt_sigprocmask, {0, 0x1000, 0x2000, 8, 0, 0}, 0).ranges == Ranges{{0x2000, 8}});
  CHECK(call(SYS_prlimit64, {0, 7, 0, 0x2000, 0, 0}, 0).ranges == Ranges{{0x2000, 16}});
  CHECK(call(SYS_getrandom, {0x1000, 64, 0, 0, 0, 0}, 32).ranges == Ranges{{0x1000, 32}});
  CHECK(call(SYS_getgroups, {0, 0, 0, 0, 0, 0}, 5).ranges.empty());
  CHECK(call(SYS_getgroups, {8, 0x1000, 0, 0, 0, 0}, 5).ranges == Ranges{{0x1000, 20}});
  CHECK(call(SYS_mincore, {0x10000, 4097, 0x1000, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 2}});
  // times() results near boot fall in the error range but are clock ticks.
  CHECK(call(SYS_times, {0x1000, 0, 0, 0, 0, 0}, -100).ranges == Ranges{{0x1000, 32}});
}

TEST_CASE("futex records only the operations that modify futex words", "[syscalls]") {
  constexpr uint64_t kWaitPrivate = 0 | 128, kWakeOpPrivate = 5 | 128, kLockPi = 6;
  CHECK(call(SYS_futex, {0x1000, kWaitPrivate, 0, 0, 0, 0}, 0).ranges.empty());
  CHECK(call(SYS_futex, {0x1000, kWakeOpPrivate, 1, 1, 0x2000, 0}, 1).ranges ==
        Ranges{{0x2000, 4}});
  CHECK(call(SYS_futex, {0x1000, kLockPi, 0, 0, 0, 0}, -ETIMEDOUT).ranges == Ranges{{0x1000, 4}});
}

TEST_CASE("clone and clone3 record the parent's tid slot", "[syscalls]") {
  uint64_t flags = CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  CHECK(call(SYS_clone, {flags, 0x9000, 0x1000, 0x2000, 0, 0}, 1234).ranges == Ranges{{0x1000, 4}});
  CHECK(call(SYS_clone, {CLONE_VM, 0x9000, 0x1000, 0x2000, 0, 0}, 1234).ranges.empty());
  FakeMemory mem;
  std::array<uint64_t, 11> args{CLONE_PIDFD | CLONE_PARENT_SETTID, 0x3000, 0x2000, 0x1000};
  mem.put(0x5000, args);
  Outputs out = call(SYS_clone3, {0x5000, 88, 0, 0, 0, 0}, 1234, mem.reader());
  CHECK(out.known);
  CHECK(out.ranges == Ranges{{0x3000, 4}, {0x1000, 4}});
  CHECK_FALSE(call(SYS_clone3, {0x5000, 88, 0, 0, 0, 0}, 1234).known);
}

TEST_CASE("capget reports the version probe", "[syscalls]") {
  FakeMemory mem;
  mem.put(0x1000, uint32_t{0x20080522});
  CHECK(call(SYS_capget, {0x1000, 0x2000, 0, 0, 0, 0}, 0, mem.reader()).ranges ==
        Ranges{{0x2000, 24}});
  CHECK(call(SYS_capget, {0x1000, 0, 0, 0, 0, 0}, -EINVAL, mem.reader()).ranges ==
        Ranges{{0x1000, 4}});
}

TEST_CASE("fcntl, prctl and arch_prctl commands", "[syscalls]") {
  CHECK(call(SYS_fcntl, {3, 5 /* F_GETLK */, 0x1000, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 32}});
  CHECK(call(SYS_fcntl, {3, 1 /* F_GETFD */, 0, 0, 0, 0}, 1).ranges.empty());
  CHECK(call(SYS_prctl, {PR_GET_NAME, 0x1000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 16}});
  CHECK(call(SYS_prctl, {PR_SET_NAME, 0x1000, 0, 0, 0, 0}, 0).ranges.empty());
  CHECK(call(SYS_arch_prctl, {ARCH_GET_FS, 0x1000, 0, 0, 0, 0}, 0).ranges == Ranges{{0x1000, 8}});
  Outputs set_fs = call(SYS_arch_prctl, {ARCH_SET_FS, 0x7f0000, 0, 0, 0, 0}, 0);
  CHECK(set_fs.known);
  CHECK(set_fs.ranges.empty());
  CHECK_FALSE(call(SYS_arch_prctl, {0x7777, 0x1000, 0, 0, 0, 0}, 0).known);
}

// Syscalls that glibc, coreutils, shells, python3, gcc, make, sqlite3 and
// compressors make: each must be in the table.
constexpr std::string_view kCommonSyscalls =
    "read pread64 readv preadv preadv2 recvfrom recvmsg recvmmsg write writev open openat openat2 "
    "close stat fstat lstat newfstatat statx statfs fstatfs getdents getdents64 readlink "
    "readlinkat getcwd pipe pipe2 socketpair socket bind listen connect accept accept4 "
    "getsockname getpeername getsockopt ioctl fcntl poll ppoll select pselect6 epoll_wait "
    "epoll_pwait epoll_pwait2 epoll_ctl wait4 waitid clock_gettime clock_getres gettimeofday time "
    "nanosleep clock_nanosleep getrandom uname sysinfo getrlimit prlimit64 getrusage times "
    "rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait sigaltstack getitimer setitimer "
    "timer_create timer_gettime timer_settime timerfd_gettime timerfd_settime getresuid getresgid "
    "getgroups sched_getaffinity sched_getparam sched_getattr capget arch_prctl prctl futex "
    "set_tid_address set_robust_list rseq get_robust_list mmap munmap mprotect mremap brk madvise "
    "sendfile copy_file_range splice io_setup io_getevents io_uring_setup name_to_handle_at "
    "getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr mq_timedreceive msgrcv semctl "
    "shmctl shmat lseek dup dup2 dup3 execve clone clone3 fork vfork exit exit_group kill "
    "memfd_create inotify_init1 eventfd2 signalfd4 userfaultfd process_vm_readv getcpu "
    "get_mempolicy mincore _sysctl syslog quotactl utimensat faccessat faccessat2 chdir mkdir "
    "unlink rename renameat2 chmod chown link symlink umask setsid setpgid getpid gettid getppid "
    "getuid geteuid sched_yield pause alarm tgkill tkill rt_sigreturn rt_sigqueueinfo shutdown "
    "sendto sendmsg sendmmsg pwrite64 pwritev ftruncate fsync fdatasync flock fallocate fadvise64 "
    "close_range membarrier mlock setrlimit setpriority getpriority personality sync access "
    "sched_setaffinity setuid setgid umount2 mount ptrace wait4";

TEST_CASE("the table covers what common programs use", "[syscalls]") {
  for (auto word : std::views::split(kCommonSyscalls, ' ')) {
    std::string n(word.begin(), word.end());
    INFO(n);
    auto nr = number(n);
    REQUIRE(nr.has_value());
    CHECK(is_known(*nr));
  }
}

TEST_CASE("every table entry is a real x86-64 syscall", "[syscalls]") {
  int known = 0;
  for (int64_t nr = 0; nr < 512; ++nr) {
    if (!is_known(nr)) continue;
    ++known;
    // The build machine's libseccomp knows the syscalls up to 450.
    if (nr <= 450) {
      INFO(nr);
      CHECK(name(nr).rfind("syscall_", 0) == std::string::npos);
    }
  }
  CHECK(known > 300);
}
