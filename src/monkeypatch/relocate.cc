// Patch regions and instruction relocation.
//
// To divert a syscall instruction (2 bytes) to a stub we write a 5-byte
// `jmp rel32` over it, so 3 or more neighbouring bytes are lost too. The
// region is a run of whole instructions containing the site; its instructions
// are re-created in the stub ("relocated"), and the stub jumps back to the
// region's end.
//
// Choosing the region. Candidates are tried in this order: starting at the
// site, then starting one instruction earlier, and so on (up to
// max_bytes_before_site); each candidate is extended forward just far enough
// to reach 5 bytes. A candidate is refused when
//   * a known branch target lies strictly inside (start, end): the jump would
//     land inside our jmp. The start itself is fine, it becomes the jmp. The
//     caller supplies the targets of the whole function; targets of the
//     region's own branches are added here;
//   * an instruction is not relocatable (see decode.cc: trapping,
//     privileged, sysenter, xbegin, rip used other than as [rip + disp32]);
//   * a ret, indirect jmp or jmp is not the region's last instruction: the
//     bytes after it are reachable only by a jump we may not know about (a
//     switch table, the next function);
//   * it contains a call and calls are not allowed (the return address
//     pushed would point into the stub);
//   * it contains a syscall-like instruction other than the site.
// A region that begins before the site needs deferred patching: a task may
// be between the region's start and the site, so the caller may only write
// the jump when no task's ip lies inside [start, end + 1).
//
// Relocating. Every instruction keeps its meaning at the new address:
//   * [rip + disp32] operands get disp' = disp + (old address - new address),
//     which keeps the absolute address; an error if disp' leaves int32;
//   * jmp rel8/rel32 becomes jmp rel32 to the same target, or the 14-byte
//     absolute jump when the target is beyond +-2 GiB;
//   * jcc rel8/rel32 becomes 0f 8x rel32, or when out of range the inverted
//     jcc rel8 skipping an absolute jump;
//   * call rel32 stays e8 rel32 (an error when out of range);
//   * loop/loope/loopne/jrcxz/jecxz only have rel8, so they become
//     `loopX +2; jmp +N; jmp target` (N the size of the last jump), which
//     tests the same condition and changes no flags;
//   * everything else is copied byte for byte.
// Branch hint and bnd prefixes of re-encoded branches are dropped.
#include "monkeypatch/relocate.h"

#include <fmt/core.h>

#include <cstdint>
#include <optional>
#include <string>

#include "monkeypatch/le.h"

namespace rrl::monkeypatch {
namespace {

std::string describe(const Insn& insn) {
  return fmt::format("{:#x} `{}`", insn.address, insn.text);
}

Status check_insn(const Insn& insn, bool last, uint64_t site_addr, const RegionOptions& options) {
  if (!insn.relocatable)
    return fail(fmt::format("{} cannot be moved: {}", describe(insn), insn.not_relocatable_reason));
  if (insn.is_unconditional_transfer() && !last)
    return fail(fmt::format("{} leaves the region before its end", describe(insn)));
  if (insn.is_call && !options.allow_calls)
    return fail(
        fmt::format("{} is a call; its return address would point into the stub", describe(insn)));
  if (insn.is_syscall_like() && insn.address != site_addr)
    return fail(fmt::format("{} is a second syscall instruction", describe(insn)));
  return {};
}

std::optional<size_t> find_site(std::span<const Insn> insns, uint64_t site_addr) {
  for (size_t i = 0; i < insns.size(); ++i)
    if (insns[i].address == site_addr) return i;
  return std::nullopt;
}

// The shortest run starting at first that covers index `site` and min_size.
Expected<std::span<const Insn>> candidate(std::span<const Insn> insns, size_t first, size_t site,
                                          size_t min_size) {
  const uint64_t start = insns[first].address;
  for (size_t last = first; last < insns.size(); ++last) {
    if (last > first && insns[last - 1].end() != insns[last].address)
      return fail(fmt::format("instructions are not contiguous at {:#x}", insns[last].address));
    if (last >= site && insns[last].end() - start >= min_size)
      return insns.subspan(first, last - first + 1);
  }
  return fail(fmt::format("region from {:#x} runs past the decoded instructions", start));
}

std::vector<uint8_t> relocate_jcc(const Insn& insn, uint64_t new_address) {
  std::vector<uint8_t> out;
  if (fits_rel32(new_address + 6, insn.branch_target)) {
    out = {0x0f, static_cast<uint8_t>(0x80 | insn.condition)};
    append_le(out, static_cast<uint64_t>(insn.branch_target - (new_address + 6)), 4);
    return out;
  }
  // Inverted condition skips the absolute jump.
  out = {static_cast<uint8_t>(0x70 | (insn.condition ^ 1)), static_cast<uint8_t>(kJmpAbsSize)};
  auto jump = encode_jmp_abs(insn.branch_target);
  out.insert(out.end(), jump.begin(), jump.end());
  return out;
}

std::vector<uint8_t> relocate_loop(const Insn& insn, uint64_t new_address) {
  // Prefixes and opcode as they were, with rel8 = 2 (over the short jmp).
  std::vector<uint8_t> out(insn.bytes.begin(), insn.bytes.end() - 1);
  out.push_back(2);
  const uint64_t far_jump_at = new_address + insn.size + 2;
  auto jump = encode_jmp(far_jump_at, insn.branch_target);
  out.push_back(0xeb);
  out.push_back(static_cast<uint8_t>(jump.size()));
  out.insert(out.end(), jump.begin(), jump.end());
  return out;
}

Expected<std::vector<uint8_t>> relocate_rip_relative(const Insn& insn, uint64_t new_address) {
  const int64_t disp = read_le_i32(insn.bytes, insn.disp_offset);
  // Wrapping arithmetic: the distance moved, as a signed 64-bit number.
  const int64_t moved = static_cast<int64_t>(insn.address - new_address);
  const int64_t new_disp = disp + moved;
  if (new_disp < INT32_MIN || new_disp > INT32_MAX)
    return fail(fmt::format("{} cannot be moved to {:#x}: its target {:#x} would be out of reach",
                            describe(insn), new_address, insn.end() + static_cast<uint64_t>(disp)));
  std::vector<uint8_t> out = insn.bytes;
  write_le(out.data() + insn.disp_offset, static_cast<uint64_t>(new_disp), 4);
  return out;
}

}  // namespace

Status check_region(std::span<const Insn> region, uint64_t site_addr,
                    const std::set<uint64_t>& branch_targets, const RegionOptions& options) {
  if (region.empty()) return fail("empty region");
  const uint64_t start = region.front().address;
  const uint64_t end = region.back().end();
  auto inside = [&](uint64_t t) { return t > start && t < end; };
  if (auto it = branch_targets.upper_bound(start); it != branch_targets.end() && *it < end)
    return fail(fmt::format("a branch elsewhere targets {:#x}, inside the region", *it));
  for (size_t i = 0; i < region.size(); ++i) {
    const Insn& insn = region[i];
    RRL_TRY(check_insn(insn, i + 1 == region.size(), site_addr, options));
    if (insn.is_rel_branch() && inside(insn.branch_target))
      return fail(fmt::format("{} jumps into the region", describe(insn)));
  }
  return {};
}

Expected<PatchRegion> choose_region(std::span<const Insn> insns, uint64_t site_addr,
                                    const std::set<uint64_t>& branch_targets,
                                    const RegionOptions& options) {
  auto site = find_site(insns, site_addr);
  if (!site) return fail(fmt::format("no decoded instruction starts at {:#x}", site_addr));
  std::string reasons;
  for (size_t first = *site + 1; first-- > 0;) {
    if (first != *site && (options.must_start_at_site ||
                           site_addr - insns[first].address > options.max_bytes_before_site))
      break;
    auto run = candidate(insns, first, *site, options.min_size);
    Status ok = run ? check_region(*run, site_addr, branch_targets, options)
                    : Status(std::unexpected(run.error()));
    if (ok) {
      PatchRegion region;
      region.start = run->front().address;
      region.end = run->back().end();
      region.site_offset = site_addr - region.start;
      region.insns.assign(run->begin(), run->end());
      return region;
    }
    reasons += fmt::format("{}[from {:#x}] {}", reasons.empty() ? "" : "; ", insns[first].address,
                           ok.error().message);
  }
  return fail(fmt::format("no patchable region around {:#x}: {}", site_addr, reasons));
}

Expected<std::vector<uint8_t>> relocate_insn(const Insn& insn, uint64_t new_address) {
  if (!insn.relocatable)
    return fail(fmt::format("{} cannot be moved: {}", describe(insn), insn.not_relocatable_reason));
  switch (insn.rel_branch) {
    case RelBranchKind::kJmp:
      return encode_jmp(new_address, insn.branch_target);
    case RelBranchKind::kJcc:
      return relocate_jcc(insn, new_address);
    case RelBranchKind::kCall:
      return encode_call_rel32(new_address, insn.branch_target);
    case RelBranchKind::kLoop:
      return relocate_loop(insn, new_address);
    case RelBranchKind::kNone:
      break;
  }
  if (insn.rip_relative) return relocate_rip_relative(insn, new_address);
  return insn.bytes;
}

Expected<std::vector<uint8_t>> relocate(std::span<const Insn> insns, uint64_t new_address) {
  std::vector<uint8_t> out;
  for (const Insn& insn : insns) {
    auto bytes = relocate_insn(insn, new_address + out.size());
    if (!bytes) return std::unexpected(std::move(bytes).error());
    out.insert(out.end(), bytes->begin(), bytes->end());
  }
  return out;
}

bool fits_rel32(uint64_t next_ip, uint64_t target) {
  const auto delta = static_cast<int64_t>(target - next_ip);
  return delta >= INT32_MIN && delta <= INT32_MAX;
}

namespace {
Expected<std::vector<uint8_t>> encode_rel32(uint8_t opcode, uint64_t from, uint64_t to) {
  if (!fits_rel32(from + kJmpRel32Size, to))
    return fail(fmt::format("{:#x} is out of rel32 reach from {:#x}", to, from));
  std::vector<uint8_t> out{opcode};
  append_le(out, to - (from + kJmpRel32Size), 4);
  return out;
}
}  // namespace

Expected<std::vector<uint8_t>> encode_jmp_rel32(uint64_t from, uint64_t to) {
  return encode_rel32(0xe9, from, to);
}

Expected<std::vector<uint8_t>> encode_call_rel32(uint64_t from, uint64_t to) {
  return encode_rel32(0xe8, from, to);
}

std::vector<uint8_t> encode_jmp_abs(uint64_t target) {
  std::vector<uint8_t> out{0xff, 0x25, 0, 0, 0, 0};  // jmp [rip+0]
  append_le(out, target, 8);
  return out;
}

std::vector<uint8_t> encode_jmp(uint64_t from, uint64_t to) {
  if (auto rel = encode_jmp_rel32(from, to)) return *rel;
  return encode_jmp_abs(to);
}

Expected<std::vector<uint8_t>> build_trampoline_patch(const PatchRegion& region,
                                                      uint64_t stub_address) {
  if (region.size() < kJmpRel32Size)
    return fail(fmt::format("region at {:#x} has {} bytes, a jump needs {}", region.start,
                            region.size(), kJmpRel32Size));
  auto jump = encode_jmp_rel32(region.start, stub_address);
  if (!jump) return std::unexpected(std::move(jump).error());
  jump->resize(region.size(), kInt3);
  return jump;
}

}  // namespace rrl::monkeypatch
