// Planning the patch of one syscall site, and deciding when a planned patch
// may be written (deferred patching). Pure functions over bytes and
// addresses: the recorder reads the tracee, calls these, and writes.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "common/error.h"
#include "monkeypatch/relocate.h"

namespace rrl::monkeypatch {

// The stub area and the code the stub calls (see src/preload).
struct StubTarget {
  uint64_t stub_addr = 0;   // where the stub will be written
  uint64_t entry_addr = 0;  // the buffered-syscall entry the stub calls
};

// SitePlan::syscallno of a site whose number comes from a register at run
// time (glibc's syscall(), a generic wrapper).
inline constexpr int64_t kSyscallNumberAtRunTime = -1;

struct SitePlan {
  PatchRegion region;
  // The constant loaded into eax just before the site, or
  // kSyscallNumberAtRunTime.
  int64_t syscallno = kSyscallNumberAtRunTime;
  std::vector<uint8_t> stub;  // bytes for StubTarget::stub_addr
  std::vector<uint8_t> jump;  // bytes for region.start: jmp stub, int3 padding
  // Where in the stub the syscall is made, after the displaced instructions
  // that come before the site: a task that ran those and stopped at the
  // syscall's entry can be restarted there.
  uint64_t stub_syscall_offset = 0;
};

// The syscall number that the instruction right before the site puts into
// eax/rax (`mov eax, imm32`, `mov rax, imm32`, `xor eax, eax`), when control
// can reach the site only through that instruction; nullopt otherwise.
std::optional<int64_t> constant_syscall_number(std::span<const Insn> insns, uint64_t site_addr,
                                               const std::set<uint64_t>& branch_targets);

// Plans the patch of the syscall instruction at site_addr inside the function
// `code` (which starts at func_addr). Refused (an error saying why) when the
// number is a constant not in `wanted`, when no region fits, when a region
// that begins before the site does not end with the syscall (the task that
// asked would be stopped inside it), or when the stub is out of jump range.
// The stub: the displaced instructions before the site, `lea rsp,[rsp-128]`
// (over the red zone), `call entry`, `lea rsp,[rsp+128]`, `jrcxz +2;
// syscall` (the entry returns rcx != 0 when the syscall is still to be made,
// through ptrace), the displaced instructions after the site, and a jump back
// to the region's end.
Expected<SitePlan> plan_site(std::span<const uint8_t> code, uint64_t func_addr, uint64_t site_addr,
                             const StubTarget& target, const std::set<int64_t>& wanted);

// Where a task of the address space stands, for deferred patching.
struct TaskSpot {
  uint64_t ip = 0;
  // Stopped in (or blocked in) a syscall whose saved ip is `ip`: it may be
  // restarted at ip - 2, and it returns to ip.
  bool in_syscall = false;
  // Stopped at a syscall's exit whose result does not restart: it goes on at
  // ip and nowhere else, so only [start, end) holds it (a deferred region's
  // end, right after its syscall, is outside).
  bool resumes_at_ip = false;
};

enum class PatchVerdict {
  kApply,  // no task is inside: write it now
  kWait,   // a task is inside [start, end]: try again at a later syscall exit
};

// The task asking (or retrying) is at a syscall exit at `current_ip`, with a
// result that does not restart (otherwise it is one of `others`, in_syscall).
// It resumes at current_ip, so it is inside only if current_ip is in
// [start, end). Every other task is inside if its ip, or for a task in a
// syscall the restart address ip - 2, is in [start, end] (the end too: a task
// whose syscall ends there has not left the region's syscall yet).
PatchVerdict deferred_verdict(const PatchRegion& region, std::optional<uint64_t> current_ip,
                              std::span<const TaskSpot> others);

}  // namespace rrl::monkeypatch
