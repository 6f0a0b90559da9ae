// Name lookups (libseccomp) and the merged output table. The per-syscall
// knowledge lives in the family files syscall_outputs_*.cc and syscall_silent.cc;
// this file only indexes them by number and applies the error policy.
#include "common/syscalls.h"

#include <seccomp.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/syscall_table.h"

namespace rrl::syscalls {

namespace detail {

void Call::add(uint64_t addr, uint64_t len) {
  if (addr == 0 || len == 0) return;
  if (len > kMaxRangeLen) {
    len = kMaxRangeLen;
    unknown();
  }
  // A range that wraps around the address space cannot be a real buffer.
  if (addr > UINT64_MAX - len) {
    unknown();
    return;
  }
  out_.ranges.push_back({addr, len});
}

bool Call::read_bytes(uint64_t addr, void* buf, size_t len) const {
  return read_ && read_(addr, buf, len);
}

void add_iovecs(Call& c, uint64_t iov, uint64_t count, uint64_t total) {
  if (iov == 0 || count == 0 || total == 0) return;
  if (count > kIovMax) {
    c.unknown();
    return;
  }
  struct Iovec {
    uint64_t base;
    uint64_t len;
  };
  static_assert(sizeof(Iovec) == kIovecSize);
  std::vector<Iovec> vec(count);
  if (!c.read_bytes(iov, vec.data(), count * sizeof(Iovec))) {
    c.unknown();
    return;
  }
  for (const Iovec& v : vec) {
    uint64_t n = std::min(v.len, total);
    c.add(v.base, n);
    total -= n;
    if (total == 0) return;
  }
}

}  // namespace detail

namespace {

using detail::Entry;
using detail::When;

// x86-64 syscall numbers are below 512 (x32 uses bit 30 on top of them).
constexpr size_t kTableSize = 512;
using Table = std::array<Entry, kTableSize>;

void nothing(detail::Call&) {}

void insert(Table& table, const Entry& e) {
  RRL_ASSERT(e.nr >= 0 && static_cast<size_t>(e.nr) < kTableSize);
  RRL_ASSERT(table[e.nr].handler == nullptr);  // each syscall is described once
  table[e.nr] = e;
}

Table build_table() {
  Table table{};
  for (auto family : {detail::fs_entries(), detail::net_entries(), detail::process_entries(),
                      detail::control_entries()}) {
    for (const Entry& e : family) insert(table, e);
  }
  for (int64_t nr : detail::silent_syscalls()) insert(table, Entry{nr, nothing});
  return table;
}

const Entry* find(int64_t nr) {
  static const Table table = build_table();
  if (nr < 0 || static_cast<uint64_t>(nr) >= kTableSize) return nullptr;
  const Entry& e = table[nr];
  return e.handler ? &e : nullptr;
}

// The kernel returns -4095..-1 for errors; other "negative" values are
// addresses (mmap) or offsets (lseek) and mean success.
bool is_error(int64_t result) {
  return result < 0 && result >= -4095;
}

// Results the tracee sees when a signal interrupted the syscall; at the
// ptrace exit stop the restart codes are still visible.
bool is_interrupted(int64_t result) {
  constexpr int64_t kRestartSys = 512, kRestartNoIntr = 513, kRestartNoHand = 514,
                    kRestartBlock = 516;
  return result == -EINTR || result == -kRestartSys || result == -kRestartNoIntr ||
         result == -kRestartNoHand || result == -kRestartBlock;
}

bool may_have_written(When when, int64_t result) {
  switch (when) {
    case When::kOnSuccess:
      return !is_error(result);
    case When::kOnInterrupt:
      return !is_error(result) || is_interrupted(result);
    case When::kAlways:
      return true;
  }
  return true;
}

}  // namespace

Outputs output_ranges(int64_t nr, const SyscallArgs& args, int64_t result, const MemReader& read) {
  Outputs out;
  const Entry* e = find(nr);
  if (e == nullptr) {
    out.known = false;
    return out;
  }
  if (!may_have_written(e->when, result)) return out;
  detail::Call call(args, result, read, out);
  e->handler(call);
  return out;
}

bool is_known(int64_t nr) {
  return find(nr) != nullptr;
}

std::string name(int64_t nr) {
  if (nr >= 0 && nr <= INT32_MAX) {
    std::unique_ptr<char, decltype(&free)> resolved(
        seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, static_cast<int>(nr)), &free);
    if (resolved) return resolved.get();
  }
  return "syscall_" + std::to_string(nr);
}

std::optional<int64_t> number(std::string_view name) {
  std::string terminated(name);
  int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, terminated.c_str());
  // Negative values are libseccomp's pseudo-numbers for syscalls that x86-64
  // lacks (socketcall, ...), or its error value.
  if (nr < 0) return std::nullopt;
  return nr;
}

bool replay_runs(int64_t nr) {
  switch (nr) {
    case SYS_mmap:
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_mremap:
    case SYS_brk:
    case SYS_madvise:
    case SYS_arch_prctl:
    case SYS_set_tid_address:
    case SYS_set_robust_list:
    case SYS_rt_sigaction:
    case SYS_rt_sigprocmask:
    case SYS_sigaltstack:
    case SYS_rt_sigreturn:
    case SYS_pkey_mprotect:
    case SYS_setrlimit:
    case SYS_prlimit64:
      return true;
    default:
      return false;
  }
}

}  // namespace rrl::syscalls
