// The x86-64 syscall table: names, numbers, and the tracee memory that the
// kernel may have written by the time a syscall completes.
//
// The recorder saves every range output_ranges() returns at syscall exit, and
// replay writes those bytes back instead of running the syscall. A range that
// is missing here breaks replay; a range larger than what the kernel wrote
// (but inside a buffer the program passed) only costs trace space. So when in
// doubt the table over-records.
//
// Names come from libseccomp (the project's name table); numbers are the
// SYS_* constants of <sys/syscall.h>. Only the native x86-64 ABI is described:
// x32 numbers and the 32-bit ABI are "unknown" here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrl::syscalls {

struct OutputRange {
  uint64_t addr = 0;
  uint64_t len = 0;
  bool operator==(const OutputRange&) const = default;
};

// Reads tracee memory at syscall exit, for outputs found through pointers in
// tracee memory (iovec arrays, msghdr, mmsghdr, clone_args, ...).
// Returns false if the memory is unreadable.
using MemReader = std::function<bool(uint64_t addr, void* buf, size_t len)>;

struct Outputs {
  std::vector<OutputRange> ranges;
  // false: the kernel may have written memory this table cannot describe
  // (syscall or ioctl command not in the table, unreadable indirect argument,
  // asynchronous writes such as io_submit, or a range cut at kMaxRangeLen).
  bool known = true;
};

using SyscallArgs = std::array<uint64_t, 6>;

// No single range is longer than this; a longer one is cut and marks the
// outputs unknown rather than asking the recorder to copy gigabytes.
inline constexpr uint64_t kMaxRangeLen = uint64_t{1} << 30;

// The ranges the kernel may have written for syscall `nr` called with `args`
// (values at entry) that returned `result` (rax at exit, -errno on failure).
// Null pointers and empty ranges are never returned.
Outputs output_ranges(int64_t nr, const SyscallArgs& args, int64_t result, const MemReader& read);

// "read", "openat", ...; "syscall_<nr>" for numbers libseccomp does not know.
std::string name(int64_t nr);

// The x86-64 number of a syscall name, if libseccomp knows it for x86-64.
std::optional<int64_t> number(std::string_view name);

// True if `nr` is in the output table, including syscalls that write nothing.
bool is_known(int64_t nr);

// Syscalls whose effect lives in the kernel's view of the task (its address
// space, signal dispositions and mask, thread pointer, resource limits):
// replay runs them rather than emulating them. None of them sleeps for long.
// Since replay runs them in the order of their events, the recorder lets no
// other task run while one of them is in the kernel: two of them running at
// once (an mmap and a munmap of two threads) could end in another state.
bool replay_runs(int64_t nr);

}  // namespace rrl::syscalls
