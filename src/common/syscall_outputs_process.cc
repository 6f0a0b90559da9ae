// Outputs of process, time, signal, scheduling, credential and memory-policy
// syscalls: mostly fixed-size structures at one argument.
#include <sched.h>
#include <sys/syscall.h>

#include <array>
#include <cerrno>

#include "common/syscall_table.h"

namespace rrl::syscalls::detail {
namespace {

// Kernel ABI sizes on x86-64.
constexpr uint64_t kTimespecSize = 16;
constexpr uint64_t kTimevalSize = 16;
constexpr uint64_t kTimezoneSize = 8;
constexpr uint64_t kItimerSize = 32;  // struct itimerval, struct itimerspec
constexpr uint64_t kRusageSize = 144;
constexpr uint64_t kSiginfoSize = 128;
constexpr uint64_t kUtsnameSize = 390;  // 6 fields of 65 bytes
constexpr uint64_t kSysinfoSize = 112;
constexpr uint64_t kRlimitSize = 16;
constexpr uint64_t kTmsSize = 32;
constexpr uint64_t kStackSize = 24;     // stack_t
constexpr uint64_t kTimexSize = 208;    // struct timex
constexpr uint64_t kUserDescSize = 16;  // struct user_desc
// struct sigaction of the kernel: handler, flags, restorer, then the mask.
constexpr uint64_t kSigactionHeadSize = 24;
constexpr uint64_t kPageSize = 4096;

void gettimeofday(Call& c) {
  c.add(c.arg(0), kTimevalSize);
  c.add(c.arg(1), kTimezoneSize);
}

void wait4(Call& c) {  // (pid, int* status, options, struct rusage*)
  c.add(c.arg(1), 4);
  c.add(c.arg(3), kRusageSize);
}

void waitid(Call& c) {  // (idtype, id, siginfo_t*, options, struct rusage*)
  c.add(c.arg(2), kSiginfoSize);
  c.add(c.arg(4), kRusageSize);
}

// times() returns clock ticks since an arbitrary point, which can fall in the
// -4095..-1 "error" range shortly after boot; it writes the struct regardless.
void times(Call& c) {
  c.add(c.arg(0), kTmsSize);
}

void rt_sigaction(Call& c) {
  c.add(c.arg(2), kSigactionHeadSize + c.arg(3));
}

void getresid(Call& c) {  // three u32 out-parameters
  for (size_t i = 0; i < 3; ++i) c.add(c.arg(i), 4);
}

void getgroups(Call& c) {  // getgroups(0, NULL) only counts
  if (c.arg(0) != 0) c.add(c.arg(1), c.result_len() * 4);
}

// sched_setattr refuses a too-large struct with E2BIG after storing the size it
// supports in attr->size (the first u32), so that callers can retry.
void sched_setattr(Call& c) {
  if (c.result() == -E2BIG) c.add(c.arg(1), 4);
}

// capget(hdr, data): data holds one u32 triple per 32 capabilities: one for
// version 1, two for versions 2 and 3. An unknown version fails with EINVAL
// after the kernel stored its preferred version in hdr->version: libcap probes
// this way.
void capget(Call& c) {
  constexpr uint32_t kVersion1 = 0x19980330;
  if (c.result() == -EINVAL) return c.add(c.arg(0), 4);
  if (c.result() != 0 || c.arg(1) == 0) return;
  auto version = c.read<uint32_t>(c.arg(0));
  if (!version) return c.unknown();
  c.add(c.arg(1), *version == kVersion1 ? 12 : 24);
}

// clone(flags, stack, parent_tid, child_tid, tls): the parent's tid slot
// receives the child tid (CLONE_PARENT_SETTID) or a pidfd (CLONE_PIDFD).
// child_tid is written in the child, which is recorded as its own task.
void clone(Call& c) {
  if (c.arg(0) & (CLONE_PARENT_SETTID | CLONE_PIDFD)) c.add(c.arg(2), 4);
}

// clone3(struct clone_args*, size): the pointers live in clone_args.
void clone3(Call& c) {
  struct CloneArgsHead {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
  };
  auto args = c.read<CloneArgsHead>(c.arg(0));
  if (!args) return c.unknown();
  if (args->flags & CLONE_PIDFD) c.add(args->pidfd, 4);
  if (args->flags & CLONE_PARENT_SETTID) c.add(args->parent_tid, 4);
}

void get_robust_list(Call& c) {  // (pid, head**, size_t* len)
  c.add(c.arg(1), 8);
  c.add(c.arg(2), 8);
}

void getcpu(Call& c) {  // (unsigned* cpu, unsigned* node, cache)
  c.add(c.arg(0), 4);
  c.add(c.arg(1), 4);
}

// get_mempolicy(int* mode, unsigned long* nodemask, maxnode, addr, flags):
// the mask holds maxnode bits in whole longs.
void get_mempolicy(Call& c) {
  c.add(c.arg(0), 4);
  c.add(c.arg(1), (c.arg(2) / 64 + (c.arg(2) % 64 != 0)) * 8);
}

void mincore(Call& c) {  // one byte per page of [addr, addr + len)
  c.add(c.arg(2), c.arg(1) / kPageSize + (c.arg(1) % kPageSize != 0));
}

void syslog(Call& c) {  // only the READ actions fill the buffer
  constexpr uint64_t kRead = 2, kReadAll = 3, kReadClear = 4;
  uint64_t type = c.arg(0);
  if (type == kRead || type == kReadAll || type == kReadClear) c.add(c.arg(1), c.result_len());
}

void modify_ldt(Call& c) {  // func 0 and 2 read the LDT
  if (c.arg(0) == 0 || c.arg(0) == 2) c.add(c.arg(1), c.result_len());
}

// move_pages(pid, count, pages, nodes, int* status, flags)
void move_pages(Call& c) {
  c.add(c.arg(4), c.arg(1) * 4);
}

void process_vm_readv(Call& c) {
  add_iovecs(c, c.arg(1), c.arg(2), c.result_len());
}

// perf_event_open refuses a too-large attr with E2BIG after storing the size
// it supports in attr->size (the u32 at offset 4).
void perf_event_open(Call& c) {
  if (c.result() == -E2BIG) c.add(c.arg(0) + 4, 4);
}

// futex(uaddr, op, val, timeout, uaddr2, val3): waiting and waking leave the
// futex words alone, but FUTEX_WAKE_OP modifies *uaddr2 and the PI operations
// store owner tids and the waiters bit, also when the lock attempt fails.
void futex(Call& c) {
  constexpr uint64_t kCmdMask = 0x7f;  // drops FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
  constexpr uint64_t kWakeOp = 5, kLockPi = 6, kUnlockPi = 7, kTrylockPi = 8, kWaitRequeuePi = 11,
                     kCmpRequeuePi = 12, kLockPi2 = 13;
  switch (c.arg(1) & kCmdMask) {
    case kLockPi:
    case kUnlockPi:
    case kTrylockPi:
    case kLockPi2:
      return c.add(c.arg(0), 4);
    case kWaitRequeuePi:
      c.add(c.arg(0), 4);
      return c.add(c.arg(4), 4);
    case kWakeOp:
    case kCmpRequeuePi:
      return c.add(c.arg(4), 4);
    default:
      return;
  }
}

constexpr auto kEntries = std::to_array<Entry>({
    {SYS_wait4, wait4},
    {SYS_waitid, waitid},
    {SYS_clock_gettime, fixed<1, kTimespecSize>},
    {SYS_clock_getres, fixed<1, kTimespecSize>},
    {SYS_gettimeofday, gettimeofday},
    {SYS_time, fixed<0, 8>},
    // The remaining time is stored when a signal interrupts the sleep.
    {SYS_nanosleep, fixed<1, kTimespecSize>, When::kOnInterrupt},
    {SYS_clock_nanosleep, fixed<3, kTimespecSize>, When::kOnInterrupt},
    {SYS_adjtimex, fixed<0, kTimexSize>},
    {SYS_clock_adjtime, fixed<1, kTimexSize>},
    {SYS_uname, fixed<0, kUtsnameSize>},
    {SYS_sysinfo, fixed<0, kSysinfoSize>},
    {SYS_getrlimit, fixed<1, kRlimitSize>},
    {SYS_prlimit64, fixed<3, kRlimitSize>},
    {SYS_getrusage, fixed<1, kRusageSize>},
    {SYS_times, times, When::kAlways},
    {SYS_rt_sigaction, rt_sigaction},
    {SYS_rt_sigprocmask, [](Call& c) { c.add(c.arg(2), c.arg(3)); }},
    {SYS_rt_sigpending, [](Call& c) { c.add(c.arg(0), c.arg(1)); }},
    {SYS_rt_sigtimedwait, fixed<1, kSiginfoSize>},
    {SYS_sigaltstack, fixed<1, kStackSize>},
    {SYS_getitimer, fixed<1, kItimerSize>},
    {SYS_setitimer, fixed<2, kItimerSize>},
    {SYS_timer_create, fixed<2, 4>},  // timer_t* (an int for the kernel)
    {SYS_timer_gettime, fixed<1, kItimerSize>},
    {SYS_timer_settime, fixed<3, kItimerSize>},
    {SYS_timerfd_gettime, fixed<1, kItimerSize>},
    {SYS_timerfd_settime, fixed<3, kItimerSize>},
    {SYS_getresuid, getresid},
    {SYS_getresgid, getresid},
    {SYS_getgroups, getgroups},
    {SYS_sched_getaffinity, result_bytes<2>},
    {SYS_sched_getparam, fixed<1, 4>},
    {SYS_sched_getattr, [](Call& c) { c.add(c.arg(1), c.arg(2)); }},  // attr, usize
    {SYS_sched_setattr, sched_setattr, When::kAlways},
    {SYS_sched_rr_get_interval, fixed<1, kTimespecSize>},
    {SYS_capget, capget, When::kAlways},
    {SYS_futex, futex, When::kAlways},
    {SYS_clone, clone},
    {SYS_clone3, clone3},
    {SYS_get_robust_list, get_robust_list},
    {SYS_getcpu, getcpu},
    {SYS_get_mempolicy, get_mempolicy},
    {SYS_mincore, mincore},
    {SYS_syslog, syslog},
    {SYS_modify_ldt, modify_ldt},
    {SYS_get_thread_area, fixed<0, kUserDescSize>},
    {SYS_set_thread_area, fixed<0, 4>},  // the kernel picks entry_number when it is -1
    {SYS_move_pages, move_pages},
    {SYS_process_vm_readv, process_vm_readv},
    {SYS_perf_event_open, perf_event_open, When::kAlways},
});

}  // namespace

std::span<const Entry> process_entries() {
  return kEntries;
}

}  // namespace rrl::syscalls::detail
