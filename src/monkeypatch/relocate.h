// Choosing the bytes a 5-byte jump may overwrite, moving the instructions it
// displaces to a stub, and encoding the jumps between the two. The algorithm
// and its safety rules are described at the top of relocate.cc.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "common/error.h"
#include "monkeypatch/decode.h"

namespace rrl::monkeypatch {

constexpr size_t kJmpRel32Size = 5;
constexpr size_t kJmpAbsSize = 14;  // jmp [rip+0]; .quad target
constexpr uint8_t kInt3 = 0xcc;

struct RegionOptions {
  // The region must begin at the site (the replayer's anchor, or a recorder
  // that does not want deferred patching).
  bool must_start_at_site = false;
  size_t min_size = kJmpRel32Size;
  // How far before the site a region may begin, in bytes.
  size_t max_bytes_before_site = 16;
  // Calls push a return address inside the stub, which unwinders, debuggers
  // and pc-thunk code would see; only callers that accept that allow them.
  bool allow_calls = false;
};

// Whole instructions [start, end) to be replaced by a jump to a stub.
struct PatchRegion {
  uint64_t start = 0;
  uint64_t end = 0;
  // Bytes of the region before the site. Non-zero means those instructions
  // may already have run when a task is at the site: deferred patching.
  uint64_t site_offset = 0;
  std::vector<Insn> insns;

  uint64_t size() const { return end - start; }
  bool needs_deferred_patching() const { return site_offset != 0; }
};

// insns: consecutive instructions decoded from a point aligned with the real
// instruction stream (the function's start), covering the site.
// branch_targets: collect_branch_targets() of the enclosing function.
// Prefers a region starting at the site, then ones starting earlier, nearest
// first. The error lists why each candidate was refused.
Expected<PatchRegion> choose_region(std::span<const Insn> insns, uint64_t site_addr,
                                    const std::set<uint64_t>& branch_targets,
                                    const RegionOptions& options = {});

// Why a given run of instructions may not be a region (success if it may).
Status check_region(std::span<const Insn> region, uint64_t site_addr,
                    const std::set<uint64_t>& branch_targets, const RegionOptions& options);

// Bytes that, placed at new_address, do what insn did at insn.address.
Expected<std::vector<uint8_t>> relocate_insn(const Insn& insn, uint64_t new_address);
// The instructions relocated one after the other starting at new_address.
Expected<std::vector<uint8_t>> relocate(std::span<const Insn> insns, uint64_t new_address);

// Whether target - next_ip fits a signed 32-bit displacement; next_ip is the
// address just after the instruction holding it.
bool fits_rel32(uint64_t next_ip, uint64_t target);
// e9/e8 rel32 placed at from, reaching to; fails when out of range.
Expected<std::vector<uint8_t>> encode_jmp_rel32(uint64_t from, uint64_t to);
Expected<std::vector<uint8_t>> encode_call_rel32(uint64_t from, uint64_t to);
// ff 25 00 00 00 00 <target as 8 bytes>: reaches anywhere, position independent.
std::vector<uint8_t> encode_jmp_abs(uint64_t target);
// rel32 when it fits, otherwise the absolute form.
std::vector<uint8_t> encode_jmp(uint64_t from, uint64_t to);

// What to write over the region: jmp rel32 to the stub, then int3 up to the
// region's end (those bytes must never run; a stray jump into them traps).
Expected<std::vector<uint8_t>> build_trampoline_patch(const PatchRegion& region,
                                                      uint64_t stub_address);

}  // namespace rrl::monkeypatch
