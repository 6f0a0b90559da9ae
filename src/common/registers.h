// General-purpose registers of a stopped tracee. x86-64 layout (user_regs_struct);
// a 32-bit tracee reports through the same struct with the i386 meaning of each
// register, so the syscall accessors look at `arch`.
#pragma once

#include <sys/user.h>

#include <cstdint>

namespace rrl {

enum class Arch : uint8_t { kX86_64 = 0, kX86 = 1 };

struct Registers {
  user_regs_struct r{};
  Arch arch = Arch::kX86_64;

  uint64_t ip() const { return r.rip; }
  void set_ip(uint64_t v) { r.rip = v; }
  uint64_t sp() const { return r.rsp; }
  // Syscall number as seen at entry (orig_rax survives the syscall).
  int64_t syscallno() const { return static_cast<int64_t>(r.orig_rax); }
  int64_t result() const { return static_cast<int64_t>(r.rax); }
  void set_result(uint64_t v) { r.rax = v; }
  uint64_t arg(int i) const {
    if (arch == Arch::kX86) {
      switch (i) {
        case 0:
          return r.rbx & 0xffffffff;
        case 1:
          return r.rcx & 0xffffffff;
        case 2:
          return r.rdx & 0xffffffff;
        case 3:
          return r.rsi & 0xffffffff;
        case 4:
          return r.rdi & 0xffffffff;
        default:
          return r.rbp & 0xffffffff;
      }
    }
    switch (i) {
      case 0:
        return r.rdi;
      case 1:
        return r.rsi;
      case 2:
        return r.rdx;
      case 3:
        return r.r10;
      case 4:
        return r.r8;
      default:
        return r.r9;
    }
  }
};

}  // namespace rrl
