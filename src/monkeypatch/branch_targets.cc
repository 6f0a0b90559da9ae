#include "monkeypatch/branch_targets.h"

#include "monkeypatch/le.h"

namespace rrl::monkeypatch {

namespace {

void add_target(std::set<uint64_t>& targets, const Insn& insn, uint64_t address, uint64_t end) {
  if (insn.is_rel_branch()) {
    targets.insert(insn.branch_target);
    return;
  }
  if (!insn.rip_relative || insn.text.rfind("lea ", 0) != 0) return;
  const int32_t disp = read_le_i32(insn.bytes, insn.disp_offset);
  const uint64_t target = insn.end() + static_cast<int64_t>(disp);
  if (target >= address && target < end) targets.insert(target);
}

}  // namespace

std::set<uint64_t> collect_branch_targets(const Decoder& decoder, std::span<const uint8_t> code,
                                          uint64_t address) {
  std::set<uint64_t> targets;
  const uint64_t end = address + code.size();
  decoder.sweep(code, address, [&](const Insn& insn) { add_target(targets, insn, address, end); });
  return targets;
}

std::set<uint64_t> collect_branch_targets(std::span<const Insn> insns, uint64_t address,
                                          uint64_t end) {
  std::set<uint64_t> targets;
  for (const Insn& insn : insns) add_target(targets, insn, address, end);
  return targets;
}

Expected<std::set<uint64_t>> collect_branch_targets(std::span<const uint8_t> code,
                                                    uint64_t address) {
  auto decoder = Decoder::open();
  if (!decoder) return std::unexpected(std::move(decoder).error());
  return collect_branch_targets(*decoder, code, address);
}

}  // namespace rrl::monkeypatch
