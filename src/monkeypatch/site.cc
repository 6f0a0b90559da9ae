// Syscall-site planning and the deferred-patching verdict (see site.h).
//
// Deferred patching, in short. A region that begins at the site can be
// written while the asking task is stopped at the syscall's entry: nothing of
// the region has run yet, so the recorder cancels the syscall and restarts
// the task at the site, which now jumps to the stub. A region that begins
// before the site cannot: the instructions before the syscall already ran. It
// is written at the syscall's exit, when the asking task resumes at the
// region's end, and only if no other task of the address space is inside it:
// a task stopped between start and end would resume in the middle of our
// jump, and a task blocked in a syscall at the region's syscall would return
// (or restart) inside it. While one is, the request waits, and is retried at
// later syscall exits in the address space. The request names its region, so
// a retry at an unrelated syscall (a signal handler's read, say) can only
// ever write the region that asked.
#include "monkeypatch/site.h"

#include <fmt/core.h>

#include "monkeypatch/branch_targets.h"
#include "monkeypatch/le.h"

namespace rrl::monkeypatch {

namespace {

constexpr size_t kMaxFunctionInsns = 100000;

// lea rsp, [rsp - 128] / lea rsp, [rsp + 128]: step over the red zone
// without touching the flags.
const std::vector<uint8_t> kSkipRedZone = {0x48, 0x8d, 0x64, 0x24, 0x80};
const std::vector<uint8_t> kRestoreRedZone = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};
// jrcxz +2; syscall: the entry returns rcx = 0 when it made and buffered the
// syscall, otherwise the stub makes it here (a traced syscall, with the
// program's own stack pointer and registers).
const std::vector<uint8_t> kTracedFallback = {0xe3, 0x02, 0x0f, 0x05};

void append(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

Expected<std::vector<uint8_t>> build_stub(const PatchRegion& region, uint64_t site_addr,
                                          const StubTarget& target, uint64_t& syscall_offset) {
  std::vector<Insn> before, after;
  for (const Insn& insn : region.insns) {
    if (insn.address < site_addr) before.push_back(insn);
    if (insn.address > site_addr) after.push_back(insn);
  }
  std::vector<uint8_t> stub;
  auto pre = relocate(before, target.stub_addr);
  if (!pre) return std::unexpected(pre.error());
  append(stub, *pre);
  syscall_offset = stub.size();
  append(stub, kSkipRedZone);
  auto call = encode_call_rel32(target.stub_addr + stub.size(), target.entry_addr);
  if (!call) return std::unexpected(call.error());
  append(stub, *call);
  append(stub, kRestoreRedZone);
  append(stub, kTracedFallback);
  auto post = relocate(after, target.stub_addr + stub.size());
  if (!post) return std::unexpected(post.error());
  append(stub, *post);
  append(stub, encode_jmp(target.stub_addr + stub.size(), region.end));
  return stub;
}

}  // namespace

// The number is the immediate of the last write to eax/rax before the site,
// in a straight run of instructions that no branch enters after that write
// (glibc's open sets eax, then moves the other arguments into place).
std::optional<int64_t> constant_syscall_number(std::span<const Insn> insns, uint64_t site_addr,
                                               const std::set<uint64_t>& branch_targets) {
  constexpr size_t kMaxLookBack = 8;
  size_t i = 0;
  while (i < insns.size() && insns[i].address != site_addr) ++i;
  if (i == insns.size()) return std::nullopt;
  for (size_t back = 1; back <= kMaxLookBack && back <= i; ++back) {
    const Insn& next = insns[i - back + 1];
    const Insn& prev = insns[i - back];
    if (branch_targets.contains(next.address) || prev.end() != next.address) return std::nullopt;
    const auto& b = prev.bytes;
    if (b.size() == 5 && b[0] == 0xb8) return read_le_i32(b, 1);  // mov eax, imm32
    if (b.size() == 7 && b[0] == 0x48 && b[1] == 0xc7 && b[2] == 0xc0)
      return read_le_i32(b, 3);  // mov rax, imm32
    if (b.size() == 2 && (b[0] == 0x31 || b[0] == 0x33) && b[1] == 0xc0) return 0;  // xor eax, eax
    if (prev.writes_rax || prev.is_call || prev.is_rel_branch() || prev.is_indirect_branch ||
        prev.is_ret || prev.is_syscall_like())
      return std::nullopt;
  }
  return std::nullopt;
}

Expected<SitePlan> plan_site(std::span<const uint8_t> code, uint64_t func_addr, uint64_t site_addr,
                             const StubTarget& target, const std::set<int64_t>& wanted) {
  auto decoder = Decoder::open();
  if (!decoder) return std::unexpected(decoder.error());
  auto insns = decoder->decode(code, func_addr, kMaxFunctionInsns);
  if (!insns) return std::unexpected(insns.error());
  // A body that decoded without a gap need not be swept again.
  const uint64_t func_end = func_addr + code.size();
  auto targets = !insns->empty() && insns->back().end() == func_end
                     ? collect_branch_targets(*insns, func_addr, func_end)
                     : collect_branch_targets(*decoder, code, func_addr);
  SitePlan plan;
  // A site whose number is not a constant is planned all the same: the stub
  // hands the preload code whatever rax holds, and the caller decides from
  // the number it saw trapping there.
  auto nr = constant_syscall_number(*insns, site_addr, targets);
  if (nr && !wanted.contains(*nr))
    return fail(
        fmt::format("syscall {} at {:#x} is not one the preload code buffers", *nr, site_addr));
  plan.syscallno = nr.value_or(kSyscallNumberAtRunTime);
  auto region = choose_region(*insns, site_addr, targets);
  if (!region) return std::unexpected(region.error());
  if (region->needs_deferred_patching() && region->end != site_addr + 2)
    return fail(fmt::format("the region [{:#x}, {:#x}) begins before the site and goes on after it",
                            region->start, region->end));
  plan.region = std::move(*region);
  auto stub = build_stub(plan.region, site_addr, target, plan.stub_syscall_offset);
  if (!stub) return std::unexpected(stub.error());
  plan.stub = std::move(*stub);
  auto jump = build_trampoline_patch(plan.region, target.stub_addr);
  if (!jump) return std::unexpected(jump.error());
  plan.jump = std::move(*jump);
  return plan;
}

PatchVerdict deferred_verdict(const PatchRegion& region, std::optional<uint64_t> current_ip,
                              std::span<const TaskSpot> others) {
  if (current_ip && *current_ip >= region.start && *current_ip < region.end)
    return PatchVerdict::kWait;
  auto inside = [&](uint64_t ip) { return ip >= region.start && ip <= region.end; };
  for (const TaskSpot& spot : others) {
    if (spot.resumes_at_ip) {
      if (spot.ip >= region.start && spot.ip < region.end) return PatchVerdict::kWait;
      continue;
    }
    if (inside(spot.ip)) return PatchVerdict::kWait;
    if (spot.in_syscall && inside(spot.ip - 2)) return PatchVerdict::kWait;
  }
  return PatchVerdict::kApply;
}

}  // namespace rrl::monkeypatch
