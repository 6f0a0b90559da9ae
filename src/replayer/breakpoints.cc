#include "replayer/breakpoints.h"

#include <algorithm>

#include "common/ptrace.h"

namespace rrl::replayer {

namespace {

constexpr uint8_t kInt3 = 0xcc;

Status write_byte(pid_t tid, uint64_t addr, uint8_t byte) {
  return ptrace::write_memory(tid, RemoteAddr(addr), std::span<const uint8_t>(&byte, 1));
}

Expected<uint8_t> read_byte(pid_t tid, uint64_t addr) {
  uint8_t byte = 0;
  RRL_TRY(ptrace::read_memory(tid, RemoteAddr(addr), std::span<uint8_t>(&byte, 1)));
  return byte;
}

}  // namespace

Status BreakpointTable::add(pid_t tid, uint64_t addr) {
  auto it = bps_.find(addr);
  if (it != bps_.end()) {
    it->second.refs++;
    return {};
  }
  auto original = read_byte(tid, addr);
  if (!original) return std::unexpected(original.error());
  RRL_TRY(write_byte(tid, addr, kInt3));
  bps_[addr] = Bp{*original, 1};
  return {};
}

Status BreakpointTable::remove(pid_t tid, uint64_t addr) {
  auto it = bps_.find(addr);
  if (it == bps_.end()) return {};
  if (--it->second.refs > 0) return {};
  uint8_t original = it->second.original;
  bps_.erase(it);
  // The mapping may be gone by now; nothing is left to undo then.
  (void)write_byte(tid, addr, original);
  return {};
}

std::vector<uint64_t> BreakpointTable::addresses() const {
  std::vector<uint64_t> out;
  for (const auto& [addr, bp] : bps_) out.push_back(addr);
  return out;
}

Status BreakpointTable::refresh(pid_t tid) {
  for (auto& [addr, bp] : bps_) {
    auto now = read_byte(tid, addr);
    if (!now || *now == kInt3) continue;  // unmapped for now, or still in place
    bp.original = *now;
    RRL_TRY(write_byte(tid, addr, kInt3));
  }
  return {};
}

void BreakpointTable::hide(uint64_t addr, std::span<uint8_t> bytes) const {
  for (auto it = bps_.lower_bound(addr); it != bps_.end() && it->first < addr + bytes.size(); ++it)
    bytes[it->first - addr] = it->second.original;
}

void BreakpointTable::scrub(pid_t child_tid) const {
  for (const auto& [addr, bp] : bps_) (void)write_byte(child_tid, addr, bp.original);
}

Status BreakpointTable::lift(pid_t tid, uint64_t addr) {
  auto it = bps_.find(addr);
  if (it == bps_.end()) return {};
  return write_byte(tid, addr, it->second.original);
}

Status BreakpointTable::restore(pid_t tid, uint64_t addr) {
  if (!bps_.contains(addr)) return {};
  return write_byte(tid, addr, kInt3);
}

Status WatchpointTable::add(uint64_t addr, uint64_t len, WatchKind kind) {
  if (len == 0) return fail("a watchpoint needs a length");
  watches_.push_back(Watchpoint{addr, len, kind});
  generation_++;
  return {};
}

Status WatchpointTable::remove(uint64_t addr, uint64_t len, WatchKind kind) {
  auto it = std::find_if(watches_.begin(), watches_.end(), [&](const Watchpoint& w) {
    return w.addr == addr && w.len == len && w.kind == kind;
  });
  if (it != watches_.end()) watches_.erase(it);
  generation_++;
  return {};
}

const Watchpoint* WatchpointTable::find(uint64_t addr) const {
  for (const auto& w : watches_)
    if (addr >= w.addr && addr < w.addr + w.len) return &w;
  return nullptr;
}

}  // namespace rrl::replayer
