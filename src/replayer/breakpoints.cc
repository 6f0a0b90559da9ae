#include "replayer/breakpoints.h"

#include <sys/user.h>

#include <algorithm>
#include <cstddef>

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

uint64_t debugreg_offset(int i) {
  return offsetof(struct user, u_debugreg) + static_cast<uint64_t>(i) * sizeof(long);
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
  std::vector<Watchpoint> parts;
  uint64_t end = addr + len;
  while (addr < end) {
    uint64_t size = 8;
    while (size > 1 && ((addr & (size - 1)) != 0 || addr + size > end)) size /= 2;
    parts.push_back(Watchpoint{addr, size, kind});
    addr += size;
  }
  if (slots_.size() + parts.size() > 4)
    return fail("no debug register left for this watchpoint (x86 has four)");
  slots_.insert(slots_.end(), parts.begin(), parts.end());
  generation_++;
  return {};
}

Status WatchpointTable::remove(uint64_t addr, uint64_t len, WatchKind kind) {
  std::erase_if(slots_, [&](const Watchpoint& w) {
    return w.kind == kind && w.addr >= addr && w.addr + w.len <= addr + len;
  });
  generation_++;
  return {};
}

Status WatchpointTable::apply(pid_t tid) const {
  uint64_t dr7 = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const auto& w = slots_[i];
    uint64_t rw = w.kind == WatchKind::kWrite ? 1 : 3;  // x86 cannot watch reads alone
    uint64_t len = w.len == 1 ? 0 : w.len == 2 ? 1 : w.len == 8 ? 2 : 3;
    // Disable before changing an address: the kernel validates DR7 against them.
    RRL_TRY(ptrace::poke_user(tid, debugreg_offset(7), 0));
    RRL_TRY(ptrace::poke_user(tid, debugreg_offset(static_cast<int>(i)), w.addr));
    dr7 |= (1ULL << (2 * i)) | (rw << (16 + 4 * i)) | (len << (18 + 4 * i));
  }
  return ptrace::poke_user(tid, debugreg_offset(7), dr7);
}

Expected<std::optional<Watchpoint>> WatchpointTable::triggered(pid_t tid) const {
  auto dr6 = ptrace::peek_user(tid, debugreg_offset(6));
  if (!dr6) return std::unexpected(dr6.error());
  if ((*dr6 & 0xf) == 0) return std::optional<Watchpoint>{};
  RRL_TRY(ptrace::poke_user(tid, debugreg_offset(6), 0));
  for (size_t i = 0; i < slots_.size(); ++i)
    if (*dr6 & (1ULL << i)) return std::optional<Watchpoint>(slots_[i]);
  return std::optional<Watchpoint>{};
}

}  // namespace rrl::replayer
