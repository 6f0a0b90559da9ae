// Finding a recorded point inside a hot loop at native speed.
//
// reach_state looks for the first time a task is at ip X with given
// registers. With an int3 at X that costs a ptrace stop per visit, and a loop
// interrupted after millions of iterations (a time slice, a timer signal)
// takes minutes. After a few dozen visits, reach_state asks for this instead:
// the instructions at X are moved into a stub that the task runs itself, and
// X becomes a jump to it. The stub compares every general register and the
// arithmetic flags with the wanted values. On a mismatch it runs the moved
// instructions and jumps back; on a match it puts everything back and traps
// (int3), with the task's state exactly as it was at X. Replay then moves the
// ip back to X, and removes the jump and the stub.
//
// Memory words recorded with the point (recorder/progress.cc) are compared
// too, after the registers.
//
// The stub writes no memory of the program (its scratch is in its own page),
// and touches no register it does not restore. Whether X's
// neighbourhood can be moved is decided as for the monkeypatcher: the
// function around X (from the symbols or .eh_frame of the file mapped there,
// which the trace has a copy of) must have no branch into the overwritten
// bytes. When any of this cannot be established, reach_state keeps using int3.
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/ptrace.h"
#include "monkeypatch/anchor.h"
#include "monkeypatch/relocate.h"
#include "replayer/replay_session.h"

namespace rrl::replayer {

namespace {

const LogChannel kLog("replayer");

// Registers in x86 encoding order, with their place in user_regs_struct.
struct Gpr {
  int number;
  unsigned long long user_regs_struct::*field;
};
constexpr Gpr kGprs[] = {
    {0, &user_regs_struct::rax},  {1, &user_regs_struct::rcx},  {2, &user_regs_struct::rdx},
    {3, &user_regs_struct::rbx},  {5, &user_regs_struct::rbp},  {6, &user_regs_struct::rsi},
    {7, &user_regs_struct::rdi},  {8, &user_regs_struct::r8},   {9, &user_regs_struct::r9},
    {10, &user_regs_struct::r10}, {11, &user_regs_struct::r11}, {12, &user_regs_struct::r12},
    {13, &user_regs_struct::r13}, {14, &user_regs_struct::r14}, {15, &user_regs_struct::r15},
};

constexpr uint64_t kPage = 4096;
constexpr uint64_t kStubPages = 2 * kPage;  // code, then data

class StubWriter {
 public:
  explicit StubWriter(uint64_t base) : base_(base) {}
  uint64_t here() const { return base_ + code_.size(); }
  void bytes(std::initializer_list<uint8_t> b) { code_.insert(code_.end(), b.begin(), b.end()); }
  void bytes(const std::vector<uint8_t>& b) { code_.insert(code_.end(), b.begin(), b.end()); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) code_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  // A data slot after the code (the stub page is writable), with its value.
  size_t slot(uint64_t value) {
    values_.push_back(value);
    return values_.size() - 1;
  }
  // The rel32 of a rip-relative operand naming `slot`; `after` is how many
  // bytes of the instruction follow the rel32 (an immediate).
  void ref(size_t slot, size_t after = 0) {
    refs_.push_back({code_.size(), slot, after});
    u32(0);
  }
  // cmp reg, [rip + slot holding `value`].
  void cmp_reg_const(int reg, uint64_t value) {
    bytes({static_cast<uint8_t>(0x48 | (reg >= 8 ? 4 : 0)), 0x3b,
           static_cast<uint8_t>(((reg & 7) << 3) | 5)});
    ref(slot(value));
  }
  // jne to the label filled in by bind_mismatch().
  void jne_mismatch() {
    bytes({0x0f, 0x85});
    jumps_.push_back(code_.size());
    u32(0);
  }
  void bind_mismatch() {
    for (size_t at : jumps_) patch_rel32(at, code_.size(), 0);
  }
  // The data goes on the page after the code: stores near code that runs
  // count as self-modifying code and make the CPU flush its pipeline.
  std::vector<uint8_t> finish() {
    while (code_.size() % kPage) code_.push_back(0xcc);
    size_t data = code_.size();
    for (uint64_t value : values_)
      for (int i = 0; i < 8; ++i) code_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    for (const auto& r : refs_) patch_rel32(r.at, data + 8 * r.slot, r.after);
    return code_;
  }

 private:
  struct Ref {
    size_t at, slot, after;
  };
  void patch_rel32(size_t at, size_t target, size_t after) {
    auto rel = static_cast<int32_t>(static_cast<int64_t>(target) -
                                    static_cast<int64_t>(at + 4 + after));
    for (int i = 0; i < 4; ++i) code_[at + i] = static_cast<uint8_t>(static_cast<uint32_t>(rel) >> (8 * i));
  }
  uint64_t base_;
  std::vector<uint8_t> code_;
  std::vector<uint64_t> values_;
  std::vector<Ref> refs_;
  std::vector<size_t> jumps_;
};

// The stub at `base` for region `region`, looking for `want`. `match_trap`
// receives the address the int3 leaves in rip.
//
// The stub writes nothing but two slots of its own page: not even the
// program's dead stack below the red zone, which a program may read before
// writing (what is there must be what was there when recorded). rax is kept
// in one slot; the flags, with lahf/seto (cheap, unlike pushfq/popfq), in the
// other: AH holds SF ZF AF PF CF, AL the overflow flag; `add al, 0x7f` and
// sahf put them back. Replay runs one task at a time, so the slots are never
// used by two threads at once.
Expected<std::vector<uint8_t>> build_stub(uint64_t base, const monkeypatch::PatchRegion& region,
                                          const Registers& want,
                                          const std::vector<trace::MemWord>& words,
                                          uint64_t* match_trap) {
  StubWriter w(base);
  size_t saved_rax = w.slot(0), saved_flags = w.slot(0);
  w.bytes({0x48, 0x89, 0x05});  // mov [rip+saved_rax], rax
  w.ref(saved_rax);
  w.bytes({0x9f});              // lahf
  w.bytes({0x0f, 0x90, 0xc0});  // seto al
  w.bytes({0x66, 0x89, 0x05});  // mov [rip+saved_flags], ax
  w.ref(saved_flags);
  w.bytes({0x48, 0x8b, 0x05});  // mov rax, [rip+saved_rax]
  w.ref(saved_rax);
  for (const auto& g : kGprs) {
    w.cmp_reg_const(g.number, want.r.*g.field);
    w.jne_mismatch();
  }
  w.cmp_reg_const(4, want.r.rsp);
  w.jne_mismatch();
  uint16_t flags = static_cast<uint16_t>(((want.r.eflags & 0xff) << 8) | ((want.r.eflags >> 11) & 1));
  w.bytes({0x66, 0x81, 0x3d});  // cmp word [rip+saved_flags], imm16
  w.ref(saved_flags, 2);
  w.bytes({static_cast<uint8_t>(flags), static_cast<uint8_t>(flags >> 8)});
  w.jne_mismatch();
  for (const auto& word : words) {
    w.bytes({0x48, 0xa1});  // movabs rax, [addr] (rax is in its slot)
    for (int i = 0; i < 8; ++i) w.bytes({static_cast<uint8_t>(word.addr >> (8 * i))});
    w.cmp_reg_const(0, word.value);
    w.jne_mismatch();
  }
  auto restore = [&] {
    w.bytes({0x66, 0x8b, 0x05});  // mov ax, [rip+saved_flags]
    w.ref(saved_flags);
    w.bytes({0x04, 0x7f});        // add al, 0x7f: OF back
    w.bytes({0x9e});              // sahf: the others back
    w.bytes({0x48, 0x8b, 0x05});  // mov rax, [rip+saved_rax]
    w.ref(saved_rax);
  };
  restore();
  w.bytes({0xcc});
  *match_trap = w.here();
  w.bind_mismatch();
  restore();
  auto moved = monkeypatch::relocate(region.insns, w.here());
  if (!moved) return std::unexpected(moved.error());
  w.bytes(*moved);
  w.bytes(monkeypatch::encode_jmp(w.here(), region.end));
  auto out = w.finish();
  if (out.size() > kStubPages) return fail("the search stub does not fit its pages");
  return out;
}

}  // namespace

// The patch region at `ip` in task `t`'s process, or why there is none.
Expected<monkeypatch::PatchRegion> ReplaySession::region_at(ReplayTask& t, uint64_t ip) {
  const trace::MappingRecord* m = nullptr;
  for (const auto& rec : file_maps_[t.rec_tgid])
    if (ip >= rec.start && ip < rec.end) m = &rec;
  if (!m) return fail("no saved file is mapped there");
  auto read = [&](uint64_t addr, std::span<uint8_t> out) -> Status {
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(addr), out));
    user_bps_.hide(addr, out);
    internal_bps_.hide(addr, out);
    return {};
  };
  auto function = monkeypatch::function_code_at(reader_.file_path(m->trace_file), m->start,
                                                 m->offset, ip, read);
  if (!function) return std::unexpected(function.error());
  auto region = monkeypatch::anchor_region(*function, ip);
  if (!region) return std::unexpected(region.error());
  for (uint64_t a = region->start; a < region->end; ++a)
    if (user_bps_.contains(a)) return fail("a debugger breakpoint lies in the region");
  return region;
}

// Some free page within reach of a rel32 jump from `near`.
Expected<uint64_t> ReplaySession::map_stub_page(ReplayTask& t, uint64_t near) {
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (uint64_t distance = 1ULL << 20; distance < (1ULL << 30); distance *= 2) {
    for (int sign : {-1, 1}) {
      uint64_t addr = ((near & ~0xfffULL) + static_cast<uint64_t>(sign) * distance) & ~0xfffULL;
      bool taken = false;
      for (const auto& m : *maps) taken |= addr < m.end && addr + kStubPages > m.start;
      if (taken || addr < (1ULL << 16)) continue;
      auto r = inject_anywhere(t, SYS_mmap,
                               {addr, kStubPages, PROT_READ | PROT_WRITE | PROT_EXEC,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                                static_cast<uint64_t>(-1), 0});
      if (!r) return std::unexpected(r.error());
      if (static_cast<uint64_t>(*r) == addr) return addr;
    }
  }
  return fail("no free page near the code");
}

// Runs task `t` to the first time it is in state `want`, by a stub in its own
// code (see the top of this file). False when that cannot be set up here;
// the task has not moved then.
Expected<bool> ReplaySession::reach_state_in_process(ReplayTask& t, const Registers& want,
                                                     const std::vector<trace::MemWord>& words) {
  uint64_t x = want.ip();
  auto region = region_at(t, x);
  if (!region) {
    kLog.debug(t.rec_tid, "no in-process search at {:#x}: {}", x, region.error().describe());
    return false;
  }
  auto page = map_stub_page(t, x);
  if (!page) {
    kLog.debug(t.rec_tid, "no in-process search at {:#x}: {}", x, page.error().describe());
    return false;
  }
  uint64_t trap = 0;
  auto stub = build_stub(*page, *region, want, words, &trap);
  auto patch = stub ? monkeypatch::build_trampoline_patch(*region, *page)
                    : Expected<std::vector<uint8_t>>(std::unexpected(stub.error()));
  std::vector<uint8_t> original(region->size());
  Status st = patch ? ptrace::read_memory(t.tid, RemoteAddr(x), original)
                    : Status(std::unexpected(patch.error()));
  if (st) st = ptrace::write_memory(t.tid, RemoteAddr(*page), *stub);
  if (st) st = ptrace::write_memory(t.tid, RemoteAddr(x), *patch);
  Expected<int> status = 0;
  if (st) status = run_task(t, Resume::kSysemu, std::exchange(t.pending_sig, 0));
  // Put the code back whatever happened.
  (void)ptrace::write_memory(t.tid, RemoteAddr(x), original);
  auto regs = ptrace::get_regs(t.tid);
  bool found = st && status && regs && regs->ip() == trap && WIFSTOPPED(*status) &&
               WSTOPSIG(*status) == SIGTRAP;
  if (found) {
    regs->set_ip(x);
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
  }
  if (regs && regs->ip() >= *page && regs->ip() < *page + kStubPages && !found)
    return fail(fmt::format("the in-process search stopped inside its stub at {:#x}", regs->ip()));
  (void)inject_anywhere(t, SYS_munmap, {*page, kStubPages});
  if (!st) return std::unexpected(st.error());
  if (!status) return std::unexpected(status.error());
  if (!found)
    return fail(fmt::format("the in-process search for {:#x} ended with status {:#x}", x,
                            *status));
  return true;
}

}  // namespace rrl::replayer
