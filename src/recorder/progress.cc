// What identifies an arbitrary point besides the registers.
//
// When the recorder must stop a task where it is (a time slice ran out, or a
// held-back signal waited a whole slice), replay later finds that point as
// "the first time the task is at this ip with these registers". A loop that
// only changes memory (a counter incremented through a fixed pointer) has the
// same registers on every iteration, so the registers alone would match on
// the first one. Before such a point is recorded, the task is therefore moved
// on, one instruction at a time, through two more iterations of its loop
// (back to the same ip twice). Memory is compared between the two: words
// that changed from one iteration to the next are what tells iterations
// apart, and up to four of them are recorded with their values
// (the point recorded is the one after the second iteration). A loop body
// longer than a few hundred instructions, a syscall or a fault on the way
// ends the probe early: the point is then recorded by its registers alone.
// Only the pages the first iteration may write are compared: each stepped
// instruction's memory operands, worked out from its registers (Capstone),
// and the stack. Comparing all writable memory instead costs a quarter of a
// second per probe in a program with a few hundred megabytes of heap (xz);
// it remains the fallback when an address cannot be worked out.
//
// The loop is first stepped forward to an instruction where replay can put
// its searching stub (monkeypatch/anchor.h: no branch lands inside the five
// bytes a jump there overwrites), so that replay finds the point at native
// speed rather than by a breakpoint hit per iteration.
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/ptrace.h"
#include "common/scoped_fd.h"
#include "monkeypatch/anchor.h"
#include "monkeypatch/decode.h"
#include "recorder/session.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("recorder");

constexpr int kMaxSteps = 400;              // per iteration
constexpr uint64_t kMaxSnapshot = 1ULL << 30;  // bytes of writable memory compared
constexpr size_t kMaxWords = 4;
constexpr int kMaxAnchorSteps = 64;

using Snapshot = std::map<uint64_t, std::vector<uint8_t>>;  // page -> bytes

// The pages of [start, end) that are in memory (from /proc/PID/pagemap):
// untouched stack and heap pages are all zero and need no comparing.
std::vector<bool> present_pages(int pagemap_fd, uint64_t start, uint64_t end) {
  size_t n = (end - start) / 4096;
  std::vector<uint64_t> entries(n);
  ssize_t got = ::pread(pagemap_fd, entries.data(), n * 8, static_cast<off_t>(start / 4096 * 8));
  std::vector<bool> out(n, got < 0);  // unreadable pagemap: compare everything
  for (size_t i = 0; got > 0 && i < static_cast<size_t>(got) / 8; ++i)
    out[i] = (entries[i] >> 63) & 1;
  return out;
}

std::optional<Snapshot> snapshot(pid_t tid) {
  auto maps = read_maps(tid);
  if (!maps) return std::nullopt;
  ScopedFd pagemap(::open(fmt::format("/proc/{}/pagemap", tid).c_str(), O_RDONLY | O_CLOEXEC));
  Snapshot out;
  uint64_t total = 0;
  for (const auto& m : *maps) {
    if (!(m.prot & PROT_WRITE) || m.shared || m.path == "[vvar]") continue;
    auto present = present_pages(pagemap.get(), m.start, m.end);
    for (size_t i = 0; i < present.size(); ++i) {
      if (!present[i]) continue;
      total += 4096;
      if (total > kMaxSnapshot) return std::nullopt;
      std::vector<uint8_t> bytes(4096);
      uint64_t page = m.start + i * 4096;
      iovec local{bytes.data(), bytes.size()};
      iovec remote{reinterpret_cast<void*>(page), bytes.size()};
      if (::process_vm_readv(tid, &local, 1, &remote, 1, 0) == 4096) out[page] = std::move(bytes);
    }
  }
  return out;
}

// The memory pages `pages` of the task, read in batches.
std::optional<Snapshot> snapshot_pages(pid_t tid, const std::set<uint64_t>& pages) {
  if (pages.size() * 4096 > kMaxSnapshot) return std::nullopt;
  Snapshot out;
  for (uint64_t page : pages) {
    std::vector<uint8_t> bytes(4096);
    iovec local{bytes.data(), bytes.size()};
    iovec remote{reinterpret_cast<void*>(page), bytes.size()};
    if (::process_vm_readv(tid, &local, 1, &remote, 1, 0) == 4096) out[page] = std::move(bytes);
  }
  return out;
}

uint64_t gp_value(const Registers& regs, int8_t n) {
  const user_regs_struct& r = regs.r;
  const unsigned long long* kByNumber[16] = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp,
                                             &r.rsi, &r.rdi, &r.r8,  &r.r9,  &r.r10, &r.r11,
                                             &r.r12, &r.r13, &r.r14, &r.r15};
  return n >= 0 && n < 16 ? *kByNumber[n] : 0;
}

// The pages the instruction at the task's ip may write: those of its memory
// operands (each up to 64 bytes long), and the stack around rsp (push and
// call write there without an operand). Decoded with Capstone.
void note_touched_pages(pid_t tid, const Registers& regs, TouchedPages& touched) {
  static auto decoder = monkeypatch::Decoder::open();
  auto add = [&](uint64_t addr) {
    touched.pages.insert(addr & ~4095ULL);
    touched.pages.insert((addr + 63) & ~4095ULL);
  };
  add(regs.r.rsp - 64);
  if (touched.unknown) return;
  if (!decoder) {
    touched.unknown = true;
    return;
  }
  uint8_t code[16] = {};
  size_t got = 0;
  for (size_t n : {size_t{16}, size_t{8}, size_t{4}, size_t{2}}) {
    if (ptrace::read_memory(tid, RemoteAddr(regs.ip()), std::span<uint8_t>(code, n))) {
      got = n;
      break;
    }
  }
  auto insns = decoder->decode(std::span<const uint8_t>(code, got), regs.ip(), 1);
  if (!insns || insns->empty() || (*insns)[0].memory_unknown) {
    touched.unknown = true;
    return;
  }
  const monkeypatch::Insn& insn = (*insns)[0];
  for (const monkeypatch::MemOperand& m : insn.memory) {
    uint64_t addr = static_cast<uint64_t>(m.disp);
    if (m.base == monkeypatch::MemOperand::kRegRip) addr += insn.end();
    else if (m.base != monkeypatch::MemOperand::kRegNone) addr += gp_value(regs, m.base);
    if (m.index != monkeypatch::MemOperand::kRegNone) addr += gp_value(regs, m.index) * m.scale;
    if (m.addr32) addr &= 0xffffffffULL;
    if (m.segment == monkeypatch::MemOperand::Segment::kFs) addr += regs.r.fs_base;
    if (m.segment == monkeypatch::MemOperand::Segment::kGs) addr += regs.r.gs_base;
    add(addr);
  }
  if (touched.pages.size() * 4096 > kMaxSnapshot) touched.unknown = true;
}

std::vector<trace::MemWord> changed_words(const Snapshot& before, const Snapshot& after) {
  std::vector<trace::MemWord> out;
  for (const auto& [start, bytes] : after) {
    auto it = before.find(start);
    if (it == before.end() || it->second.size() != bytes.size()) continue;
    for (size_t off = 0; off + 8 <= bytes.size() && out.size() < kMaxWords; off += 8) {
      uint64_t a, b;
      std::memcpy(&a, it->second.data() + off, 8);
      std::memcpy(&b, bytes.data() + off, 8);
      if (a != b) out.push_back(trace::MemWord{start + off, b});
    }
  }
  return out;
}

bool at_syscall_insn(pid_t tid, uint64_t ip) {
  uint8_t b[2] = {};
  if (!ptrace::read_memory(tid, RemoteAddr(ip), std::span<uint8_t>(b, 2))) return true;
  return (b[0] == 0x0f && (b[1] == 0x05 || b[1] == 0x34)) || (b[0] == 0xcd && b[1] == 0x80);
}

// pushf under single-stepping saves the trap flag, and a later popf would
// bring it back into a running task (a SIGTRAP that kills it): not stepped.
bool at_pushf(pid_t tid, uint64_t ip) {
  uint8_t b[2] = {};
  if (!ptrace::read_memory(tid, RemoteAddr(ip), std::span<uint8_t>(b, 2))) return true;
  return b[0] == 0x9c || ((b[0] == 0x66 || (b[0] & 0xf0) == 0x40) && b[1] == 0x9c);
}

bool stub_can_go_at(pid_t tid, uint64_t ip, std::optional<monkeypatch::FunctionCode>* cache) {
  if (!*cache || !(*cache)->contains(ip)) {
    cache->reset();
    auto maps = read_maps(tid);
    if (!maps) return false;
    for (const auto& m : *maps) {
      if (ip < m.start || ip >= m.end || !m.is_file()) continue;
      auto read = [&](uint64_t addr, std::span<uint8_t> out) {
        return ptrace::read_memory(tid, RemoteAddr(addr), out);
      };
      auto f = monkeypatch::function_code_at(m.path, m.start, m.offset, ip, read);
      if (f) *cache = std::move(*f);
    }
    if (!*cache) return false;
  }
  return monkeypatch::anchor_region(**cache, ip).has_value();
}

}  // namespace

// The probe ended before its two iterations: notes whether a syscall
// instruction is next (a deterministic point, not an arbitrary one).
Expected<std::vector<trace::MemWord>> Session::stopped_early(Task& t, bool* at_syscall) {
  RRL_TRY(leave_rep_string(t));  // single-steps may have ended inside one
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  *at_syscall = at_syscall_insn(t.tid, regs->ip());
  return std::vector<trace::MemWord>{};
}

// Single-steps `t` to an instruction where replay can place its search stub;
// stays where it is when none comes soon.
Status Session::step_to_anchor(Task& t) {
  std::optional<monkeypatch::FunctionCode> cache;
  for (int i = 0; i < kMaxAnchorSteps; ++i) {
    auto regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    if (stub_can_go_at(t.tid, regs->ip(), &cache)) return {};
    auto moved = step_once(t);
    if (!moved) return std::unexpected(moved.error());
    if (!*moved) return {};
  }
  return {};
}

// Single-steps `t` until its ip is `anchor` again. False when it gave up (the
// task is then at a consistent point, just not back at the anchor). With
// `touched`, also notes the pages the instructions stepped may write.
Expected<bool> Session::step_around(Task& t, uint64_t anchor, TouchedPages* touched) {
  for (int i = 0; i < kMaxSteps; ++i) {
    if (touched) {
      auto before = ptrace::get_regs(t.tid);
      if (!before) return std::unexpected(before.error());
      note_touched_pages(t.tid, *before, *touched);
    }
    auto moved = step_once(t);
    if (!moved) return std::unexpected(moved.error());
    if (!*moved) return false;
    auto regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    if (regs->ip() == anchor) return true;
  }
  return false;
}

// One instruction of `t`. False when it did not move and should not: a
// syscall instruction is next, or a fault, or a ptrace event.
Expected<bool> Session::step_once(Task& t) {
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (at_syscall_insn(t.tid, regs->ip()) || at_pushf(t.tid, regs->ip())) return false;
  return resume_to_trap(t, /*step=*/true);
}

// Single-steps or continues `t` until its next SIGTRAP (true). False at a
// fault (the instruction runs, and faults, again later) or a ptrace event.
// Signals sent from outside meanwhile are held back like any signal that
// arrives in user code.
Expected<bool> Session::resume_to_trap(Task& t, bool step) {
  while (true) {
    if (step) t.stepped = t.trap_flag_risk = true;
    RRL_TRY(step ? ptrace::singlestep(t.tid) : ptrace::cont(t.tid));
    auto waited = ptrace::wait_status(t.tid, "while probing a loop");
    if (!waited) return std::unexpected(waited.error());
    int status = *waited;
    if (!WIFSTOPPED(status)) {
      t.pending_status = status;  // it died: on_preempted hands it on
      return fail_errno("the task died while its loop was probed", ESRCH);
    }
    int sig = WSTOPSIG(status);
    if (sig == SIGTRAP && (status >> 16) == 0) return true;
    if ((status >> 16) != 0) return false;  // a ptrace event: leave it alone
    auto si = ptrace::get_siginfo(t.tid);
    if (!si) return std::unexpected(si.error());
    if (si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE))
      return false;
    t.deferred.push_back(*si);
  }
}

// A task stopped between two iterations of a repeated string instruction
// (glibc's memcpy uses `rep movsb`) stands where replay cannot stop it
// (monkeypatch/anchor.h): it goes on to the end of that instruction, with an
// int3 right after it and one resume, however many iterations are left.
Status Session::leave_rep_string(Task& t) {
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  uint8_t code[15] = {};
  size_t got = 0;
  for (size_t n : {sizeof code, size_t{4}}) {
    if (ptrace::read_memory(t.tid, RemoteAddr(regs->ip()), std::span<uint8_t>(code, n))) {
      got = n;
      break;
    }
  }
  size_t len = monkeypatch::rep_string_length(std::span<const uint8_t>(code, got));
  if (len == 0 || regs->r.rcx == 0) return {};
  uint64_t after = regs->ip() + len;
  uint8_t original = 0;
  RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(after), std::span<uint8_t>(&original, 1)));
  uint8_t int3 = 0xcc;
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(after), std::span<const uint8_t>(&int3, 1)));
  // A single-step trap left over from the probe can come first; our int3 is
  // the SIGTRAP with si_code SI_KERNEL, at `after` + 1.
  Expected<bool> trapped = false;
  bool ours = false;
  for (int tries = 0; tries < 8 && !ours; ++tries) {
    trapped = resume_to_trap(t, /*step=*/false);
    if (!trapped || !*trapped) break;
    regs = ptrace::get_regs(t.tid);
    auto si = ptrace::get_siginfo(t.tid);
    if (!regs || !si) break;
    ours = si->si_code == SI_KERNEL && regs->ip() == after + 1;
    if (!ours)
      kLog.debug(t.tid, "a stray SIGTRAP (code {}) at {:#x} while leaving a rep instruction",
                 si->si_code, regs->ip());
  }
  Status restored =
      ptrace::write_memory(t.tid, RemoteAddr(after), std::span<const uint8_t>(&original, 1));
  if (!trapped) return std::unexpected(trapped.error());
  RRL_TRY(restored);
  if (ours) {
    regs->set_ip(after);
    RRL_TRY(ptrace::set_regs(t.tid, *regs));
  }
  regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  kLog.debug(t.tid, "left a repeated string instruction, now at {:#x}", regs->ip());
  return {};
}

Expected<std::vector<trace::MemWord>> Session::probe_progress(Task& t, bool* spinning,
                                                              bool* at_syscall) {
  *spinning = *at_syscall = false;
  t.pending_status = 0;
  if (kLog.enabled(LogLevel::kDebug)) {
    if (auto regs = ptrace::get_regs(t.tid)) kLog.debug(t.tid, "interrupted at {:#x}", regs->ip());
  }
  RRL_TRY(leave_rep_string(t));
  // Chaos mode: an interrupt lands on few instructions of a loop (those
  // after its slowest one); a few random steps spread the stops over all.
  for (int n = chaos_ ? chaos_->extra_steps() : 0; n > 0; --n) {
    auto moved = step_once(t);
    if (!moved) return std::unexpected(moved.error());
    if (!*moved) break;
  }
  RRL_TRY(step_to_anchor(t));
  if (auto early = stopped_early(t, at_syscall); !early || *at_syscall) return early;
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  uint64_t anchor = regs->ip();
  // The first iteration tells which pages an iteration writes; only those
  // are compared across the second (all writable memory when an address
  // could not be worked out).
  TouchedPages touched;
  auto around = step_around(t, anchor, &touched);
  if (!around) return std::unexpected(around.error());
  if (!*around) return stopped_early(t, at_syscall);
  auto take = [&] { return touched.unknown ? snapshot(t.tid) : snapshot_pages(t.tid, touched.pages); };
  auto first = take();
  if (!first) return std::vector<trace::MemWord>{};
  around = step_around(t, anchor);
  if (!around) return std::unexpected(around.error());
  if (!*around) return stopped_early(t, at_syscall);
  auto second = take();
  if (!second) return std::vector<trace::MemWord>{};
  auto words = changed_words(*first, *second);
  *spinning = words.empty();
  regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  kLog.debug(t.tid, "loop at {:#x}: {} progress words", anchor, words.size());
  return words;
}

}  // namespace rrl::recorder
