// Decoding x86-64 machine code into classified instructions.
//
// Everything in src/monkeypatch works on byte buffers plus the address those
// bytes live at in the tracee; nothing here reads or writes a process. The
// recorder (patching syscall sites) and the replayer (in-tracee breakpoint
// stubs) both decode with this, then ask relocate.h what may be moved where.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

struct cs_insn;  // Capstone's, kept out of this header

namespace rrl::monkeypatch {

// Direct (relative) control transfers, by how they must be re-encoded.
enum class RelBranchKind : uint8_t {
  kNone,
  kJmp,   // eb rel8, e9 rel32
  kJcc,   // 7x rel8, 0f 8x rel32; condition in Insn::condition
  kCall,  // e8 rel32
  kLoop,  // e0 loopne, e1 loope, e2 loop, e3 jrcxz/jecxz: rel8 only
};

// A memory operand of an instruction, as the registers that address it:
// base + index * scale + disp (+ the fs or gs base). Registers are numbered
// as in the x86 encoding (0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi,
// 7 rdi, 8..15 r8..r15), kRegRip for rip-relative (relative to the end of
// the instruction), kRegNone when absent.
struct MemOperand {
  static constexpr int8_t kRegNone = -1;
  static constexpr int8_t kRegRip = 16;
  enum class Segment : uint8_t { kNone, kFs, kGs };
  int8_t base = kRegNone;
  int8_t index = kRegNone;
  uint8_t scale = 1;
  bool addr32 = false;  // 32-bit address size: the sum is truncated
  Segment segment = Segment::kNone;
  int64_t disp = 0;
};

struct Insn {
  uint64_t address = 0;
  uint8_t size = 0;
  std::vector<uint8_t> bytes;
  std::string text;  // "mov eax, 0x27", for logs and error messages only

  bool is_syscall = false;   // 0f 05
  bool is_sysenter = false;  // 0f 34: returns to a fixed vdso address, never movable
  bool is_int80 = false;     // cd 80
  bool is_ret = false;
  bool is_call = false;             // direct or indirect
  bool is_indirect_branch = false;  // jmp/call through a register or memory
  RelBranchKind rel_branch = RelBranchKind::kNone;
  uint8_t condition = 0;       // kJcc: low nibble of the opcode (0x4 = e/z)
  uint8_t rel_offset = 0;      // offset of the rel8/rel32 field in bytes
  uint8_t rel_size = 0;        // 1 or 4
  uint64_t branch_target = 0;  // absolute target of a rel branch

  bool writes_rax = false;    // writes any part of rax, explicitly or not

  // Its explicit memory operands. memory_unknown: one that cannot be worked
  // out from general registers (a gather or scatter indexes by a vector).
  std::vector<MemOperand> memory;
  bool memory_unknown = false;

  bool rip_relative = false;  // a memory operand is [rip + disp32]
  uint8_t disp_offset = 0;    // offset of that disp32 in bytes
  uint8_t disp_size = 0;      // always 4 when rip_relative

  // False when moving the instruction to another address could change what
  // it does; not_relocatable_reason says why.
  bool relocatable = true;
  std::string not_relocatable_reason;

  bool is_rel_branch() const { return rel_branch != RelBranchKind::kNone; }
  bool is_syscall_like() const { return is_syscall || is_sysenter || is_int80; }
  // Control never falls through to the next instruction.
  bool is_unconditional_transfer() const {
    return is_ret || (is_indirect_branch && !is_call) || rel_branch == RelBranchKind::kJmp;
  }
  uint64_t end() const { return address + size; }
};

// An open Capstone x86-64 handle with instruction details switched on.
class Decoder {
 public:
  static Expected<Decoder> open();
  Decoder(Decoder&& other) noexcept;
  Decoder& operator=(Decoder&& other) noexcept;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder();

  // Decodes instructions from the start of code (which lives at address),
  // at most max_insns of them. Stops early, without error, at the end of the
  // buffer or at bytes that do not decode (a window read from a tracee often
  // ends inside an instruction). Fails only if not even the first decodes.
  Expected<std::vector<Insn>> decode(std::span<const uint8_t> code, uint64_t address,
                                     size_t max_insns) const;

  // Calls visit(insn) for each instruction of a linear sweep over all of code;
  // bytes that do not decode are skipped one at a time.
  template <typename Visit>
  void sweep(std::span<const uint8_t> code, uint64_t address, Visit&& visit) const;

 private:
  Decoder(size_t handle, cs_insn* scratch) : handle_(handle), scratch_(scratch) {}
  void release();
  // Decodes one instruction at code[0]; false if it does not decode.
  bool decode_one(std::span<const uint8_t> code, uint64_t address, Insn& out) const;

  size_t handle_ = 0;           // csh; 0 once moved from
  cs_insn* scratch_ = nullptr;  // cs_malloc'd buffer reused by every decode
};

template <typename Visit>
void Decoder::sweep(std::span<const uint8_t> code, uint64_t address, Visit&& visit) const {
  size_t pos = 0;
  Insn insn;
  while (pos < code.size()) {
    if (!decode_one(code.subspan(pos), address + pos, insn)) {
      ++pos;
      continue;
    }
    visit(insn);
    pos += insn.size;
  }
}

// Convenience: opens a Decoder and decodes (see Decoder::decode).
Expected<std::vector<Insn>> decode(std::span<const uint8_t> code, uint64_t address,
                                   size_t max_insns);

}  // namespace rrl::monkeypatch
