// Internal to the syscall table (syscalls.cc and syscall_outputs_*.cc): how one
// syscall's outputs are described. Each family file lists its entries; one
// handler per syscall turns the arguments and result into ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "common/syscalls.h"

namespace rrl::syscalls::detail {

// One completed syscall being described, and the outputs found so far.
class Call {
 public:
  Call(const SyscallArgs& args, int64_t result, const MemReader& read, Outputs& out)
      : args_(args), result_(result), read_(read), out_(out) {}

  uint64_t arg(size_t i) const { return args_[i]; }
  int64_t result() const { return result_; }
  // The result as a byte or element count: 0 unless the call succeeded.
  uint64_t result_len() const { return result_ > 0 ? static_cast<uint64_t>(result_) : 0; }

  // Records [addr, addr + len). A null address or zero length records nothing;
  // a length above kMaxRangeLen is cut and marks the outputs unknown.
  void add(uint64_t addr, uint64_t len);
  // The kernel wrote something this table cannot describe.
  void unknown() { out_.known = false; }

  bool read_bytes(uint64_t addr, void* buf, size_t len) const;
  template <typename T>
  std::optional<T> read(uint64_t addr) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    if (addr == 0 || !read_bytes(addr, &value, sizeof(T))) return std::nullopt;
    return value;
  }

 private:
  const SyscallArgs& args_;
  int64_t result_;
  const MemReader& read_;
  Outputs& out_;
};

using Handler = void (*)(Call&);

// When the kernel may write a syscall's outputs.
enum class When : uint8_t {
  kOnSuccess,    // only when the result is not an error
  kOnInterrupt,  // also when interrupted by a signal (remaining time, revents)
  kAlways,       // the handler looks at the result itself
};

struct Entry {
  int64_t nr = -1;
  Handler handler = nullptr;
  When when = When::kOnSuccess;
};

// The families, one file each; syscalls.cc merges them into one table.
std::span<const Entry> fs_entries();         // syscall_outputs_fs.cc
std::span<const Entry> net_entries();        // syscall_outputs_net.cc
std::span<const Entry> process_entries();    // syscall_outputs_process.cc
std::span<const Entry> control_entries();    // syscall_outputs_control.cc
std::span<const int64_t> silent_syscalls();  // syscall_silent.cc: write no user memory

// Building blocks shared by the families.
inline constexpr uint64_t kIovecSize = 16;     // struct iovec
inline constexpr uint64_t kSockaddrMax = 128;  // struct sockaddr_storage
inline constexpr uint64_t kIovMax = 1024;      // UIO_MAXIOV: the kernel refuses more

// ioctl(fd, cmd, arg), in syscall_outputs_ioctl.cc.
void ioctl_outputs(Call& c);

// Records the first `total` bytes of the buffers of an iovec array.
void add_iovecs(Call& c, uint64_t iov, uint64_t count, uint64_t total);

// `Len` bytes at argument `Arg`.
template <size_t Arg, uint64_t Len>
void fixed(Call& c) {
  c.add(c.arg(Arg), Len);
}
// As many bytes at argument `Arg` as the syscall returned.
template <size_t Arg>
void result_bytes(Call& c) {
  c.add(c.arg(Arg), c.result_len());
}

}  // namespace rrl::syscalls::detail
