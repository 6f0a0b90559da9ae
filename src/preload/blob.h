// The preload code as the recorder sees it: bytes to copy into a tracee at
// RRL_PRELOAD_BASE, and the offsets of its entry points in those bytes.
#pragma once

#include <cstdint>
#include <set>
#include <span>

#include "preload/preload_interface.h"

namespace rrl::preload {

constexpr uint64_t kBase = RRL_PRELOAD_BASE;
constexpr uint64_t kCodeSize = RRL_CODE_SIZE;
constexpr uint64_t kStubsAddr = RRL_STUBS_ADDR;
constexpr uint64_t kStubsSize = RRL_STUBS_SIZE;
constexpr uint64_t kBufferAddr = RRL_BUFFER_ADDR;
constexpr uint64_t kBufferSize = RRL_BUFFER_SIZE;
constexpr uint64_t kEnd = RRL_PRELOAD_END;
constexpr uint32_t kVersion = RRL_PRELOAD_VERSION;

// The code, position independent, to be placed at kBase.
std::span<const uint8_t> code();
// Addresses in the tracee once the code is at kBase.
uint64_t entry_address();         // rrl_syscall_entry: what per-site stubs call
uint64_t untraced_end_address();  // the ip the seccomp filter lets through
// In rrl_syscall_entry, right after `call rrl_buffered`; [this,
// untraced_address()) is the entry's way back to its stub.
uint64_t entry_resume_address();
uint64_t untraced_address();  // rrl_untraced, which follows the entry

// The syscalls rrl_buffered() may buffer: the sites worth patching.
const std::set<int64_t>& buffered_syscalls();

// Whether ip lies in the preload code or the stubs, where the recorder never
// stops a task for long (the buffer is shared by the address space's tasks).
inline bool in_preload_code(uint64_t ip) {
  return ip >= kBase && ip < kStubsAddr + kStubsSize;
}

}  // namespace rrl::preload
