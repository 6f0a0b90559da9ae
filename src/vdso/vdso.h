// Turning the tracee's vdso and vsyscall entries into real, recordable syscalls.
//
// vdso time functions answer from shared memory without entering the kernel, so
// ptrace never sees them and their results differ between record and replay.
// Right after exec the recorder reads the [vdso] mapping, asks this module which
// bytes to write, and pokes them in: each entry point becomes a tiny stub that
// makes the equivalent syscall. This module is pure (bytes in, bytes out); it
// never touches a tracee, so the recorder owns how the bytes get written.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace rrl::vdso {

// An exported function of the vdso image. offset is from the start of the
// mapping (the link-time base is already subtracted); size 0 means unknown.
struct Symbol {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
};

// Parses a whole vdso mapping (64- or 32-bit ELF) and lists its defined,
// exported (GLOBAL or WEAK) STT_FUNC dynamic symbols.
Expected<std::vector<Symbol>> parse_symbols(std::span<const uint8_t> image);

// Bytes to write at addr (= base + symbol offset) in the tracee.
struct Patch {
  uint64_t addr = 0;
  std::vector<uint8_t> bytes;
  std::string symbol;  // first name seen for this address, for logs
};

// One patch per distinct address of a known function; dispatches on the ELF
// class. x86-64: `mov eax, NR; syscall; ret`. i386 (cdecl, arguments on the
// stack): `push ebx; mov ebx/ecx/edx, [esp+8/12/16]; mov eax, NR; int $0x80;
// pop ebx; ret`, loading as many arguments as the syscall takes. Functions
// with no syscall equivalent (__vdso_sgx_enter_enclave, __kernel_vsyscall,
// the sigreturn trampolines) are left alone. x86-64 getrandom is rewritten to
// `return -ENOSYS` so that libc falls back to the (recorded) syscall.
// Fails if a symbol's known size is smaller than its stub.
Expected<std::vector<Patch>> syscall_patches(std::span<const uint8_t> image, uint64_t base);

// Legacy vsyscall page. The kernel emulates calls to its three entries.
constexpr uint64_t kVsyscallBase = 0xffffffffff600000ULL;
// x86-64 syscall number emulated at ip (gettimeofday at +0x000, time at +0x400,
// getcpu at +0x800); nullopt for any other ip.
std::optional<int64_t> vsyscall_number(uint64_t ip);

// Value of the first auxv entry of the given type (AT_SYSINFO_EHDR, AT_SYSINFO)
// in a raw auxv buffer of native-endian (type, value) pairs, 8 bytes each, or
// 4 bytes each when is_32bit. Stops at AT_NULL or the end of the buffer.
std::optional<uint64_t> auxv_lookup(std::span<const uint8_t> auxv, uint64_t type,
                                    bool is_32bit = false);

}  // namespace rrl::vdso
