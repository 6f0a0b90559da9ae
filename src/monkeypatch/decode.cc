#include "monkeypatch/decode.h"

#include <capstone/capstone.h>
#include <fmt/core.h>

#include <string_view>
#include <utility>

namespace rrl::monkeypatch {
namespace {

void mark_unrelocatable(Insn& insn, std::string reason) {
  insn.relocatable = false;
  if (insn.not_relocatable_reason.empty()) insn.not_relocatable_reason = std::move(reason);
}

// Direct branches are recognised by opcode, not by Capstone's groups: in
// Capstone 4 `loop` is in BRANCH_RELATIVE but not in JUMP, and we need the
// exact encoding anyway to re-encode it.
void classify_rel_branch(const cs_insn& ci, Insn& insn) {
  const cs_x86& x = ci.detail->x86;
  const uint8_t op0 = x.opcode[0];
  const uint8_t op1 = x.opcode[1];
  if (op0 >= 0x70 && op0 <= 0x7f) {
    insn.rel_branch = RelBranchKind::kJcc;
    insn.condition = op0 & 0x0f;
  } else if (op0 == 0x0f && op1 >= 0x80 && op1 <= 0x8f) {
    insn.rel_branch = RelBranchKind::kJcc;
    insn.condition = op1 & 0x0f;
  } else if (op0 == 0xeb || op0 == 0xe9) {
    insn.rel_branch = RelBranchKind::kJmp;
  } else if (op0 == 0xe8) {
    insn.rel_branch = RelBranchKind::kCall;
  } else if (op0 >= 0xe0 && op0 <= 0xe3) {
    insn.rel_branch = RelBranchKind::kLoop;
  } else {
    return;
  }
  insn.rel_offset = x.encoding.imm_offset;
  insn.rel_size = x.encoding.imm_size;
  if (x.op_count >= 1 && x.operands[0].type == X86_OP_IMM)
    insn.branch_target = static_cast<uint64_t>(x.operands[0].imm);
  if (x.prefix[2] == X86_PREFIX_OPSIZE)  // 16-bit target: truncates rip
    mark_unrelocatable(insn, "relative branch with an operand-size prefix");
  if ((insn.rel_size != 1 && insn.rel_size != 4) || insn.rel_offset + insn.rel_size != insn.size)
    mark_unrelocatable(insn, "unexpected relative branch encoding");
}

// RIP may appear only as the base of a [rip + disp32] memory operand; any
// other use would be an encoding we do not understand, so we refuse to move it.
void classify_rip_use(const cs_insn& ci, Insn& insn) {
  const cs_x86& x = ci.detail->x86;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type == X86_OP_REG && (op.reg == X86_REG_RIP || op.reg == X86_REG_EIP))
      mark_unrelocatable(insn, "uses rip as a register operand");
    if (op.type != X86_OP_MEM) continue;
    if (op.mem.index == X86_REG_RIP || op.mem.base == X86_REG_EIP)
      mark_unrelocatable(insn, "unusual rip-relative addressing");
    if (op.mem.base != X86_REG_RIP) continue;
    insn.rip_relative = true;
    insn.disp_offset = x.encoding.disp_offset;
    insn.disp_size = x.encoding.disp_size;
    if (insn.disp_size != 4 || insn.disp_offset == 0 ||
        insn.disp_offset + insn.disp_size > insn.size)
      mark_unrelocatable(insn, "rip-relative operand without a disp32 field");
  }
}

// Instructions whose whole purpose is to trap: moved, they would report the
// stub's address to whoever handles the trap (a debugger, a SIGILL handler).
void classify_traps(const cs_insn& ci, Insn& insn) {
  switch (ci.id) {
    case X86_INS_INT3:
    case X86_INS_INTO:
    case X86_INS_UD0:
    case X86_INS_UD2:
    case X86_INS_HLT:
      mark_unrelocatable(insn, "a trapping instruction");
      break;
    case X86_INS_INT:
      if (!insn.is_int80) mark_unrelocatable(insn, "a trapping instruction");
      break;
    case X86_INS_XBEGIN:  // its abort target is rip-relative and not a branch
      mark_unrelocatable(insn, "xbegin");
      break;
    default:
      break;
  }
}

// The encoding number of a general register (any width), or kRegNone.
int8_t gp_number(unsigned reg) {
  static const unsigned kRegs[16][4] = {
      {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL},
      {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL},
      {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL},
      {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL},
      {X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL},
      {X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL},
      {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL},
      {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL},
      {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B},
      {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B},
      {X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B},
      {X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B},
      {X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B},
      {X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B},
      {X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B},
      {X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B},
  };
  for (int8_t n = 0; n < 16; ++n)
    for (unsigned r : kRegs[n])
      if (r == reg) return n;
  return MemOperand::kRegNone;
}

bool is_32bit_gp(unsigned reg) {
  return reg == X86_REG_EAX || reg == X86_REG_ECX || reg == X86_REG_EDX || reg == X86_REG_EBX ||
         reg == X86_REG_ESP || reg == X86_REG_EBP || reg == X86_REG_ESI || reg == X86_REG_EDI ||
         reg == X86_REG_R8D ||
         reg == X86_REG_R9D || reg == X86_REG_R10D || reg == X86_REG_R11D ||
         reg == X86_REG_R12D || reg == X86_REG_R13D || reg == X86_REG_R14D || reg == X86_REG_R15D;
}

void classify_memory(const cs_insn& ci, Insn& insn) {
  const cs_x86& x = ci.detail->x86;
  // Capstone 4 does not always name the vector index of a gather or scatter.
  std::string_view mnemonic(ci.mnemonic);
  if (mnemonic.find("gather") != std::string_view::npos ||
      mnemonic.find("scatter") != std::string_view::npos)
    insn.memory_unknown = true;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type != X86_OP_MEM) continue;
    MemOperand m;
    m.disp = op.mem.disp;
    m.scale = static_cast<uint8_t>(op.mem.scale > 0 ? op.mem.scale : 1);
    if (op.mem.segment == X86_REG_FS) m.segment = MemOperand::Segment::kFs;
    if (op.mem.segment == X86_REG_GS) m.segment = MemOperand::Segment::kGs;
    if (op.mem.base == X86_REG_RIP || op.mem.base == X86_REG_EIP) {
      m.base = MemOperand::kRegRip;
    } else if (op.mem.base != X86_REG_INVALID) {
      m.base = gp_number(op.mem.base);
      if (m.base == MemOperand::kRegNone) insn.memory_unknown = true;
      m.addr32 = is_32bit_gp(op.mem.base);
    }
    // eiz/riz: a zero index some encodings spell out (`nop [rax + riz]`).
    if (op.mem.index != X86_REG_INVALID && op.mem.index != X86_REG_EIZ &&
        op.mem.index != X86_REG_RIZ) {
      m.index = gp_number(op.mem.index);
      if (m.index == MemOperand::kRegNone) insn.memory_unknown = true;  // a vector index
      m.addr32 = m.addr32 || is_32bit_gp(op.mem.index);
    }
    insn.memory.push_back(m);
  }
}

bool writes_rax(size_t handle, const cs_insn& ci) {
  cs_regs read, written;
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(handle, &ci, read, &nread, written, &nwritten) != CS_ERR_OK)
    return true;  // unknown: assume the worst
  for (uint8_t i = 0; i < nwritten; ++i) {
    switch (written[i]) {
      case X86_REG_RAX:
      case X86_REG_EAX:
      case X86_REG_AX:
      case X86_REG_AL:
      case X86_REG_AH:
        return true;
      default:
        break;
    }
  }
  return false;
}

void fill_insn(size_t handle, const cs_insn& ci, Insn& insn) {
  insn = Insn{};
  insn.address = ci.address;
  insn.size = static_cast<uint8_t>(ci.size);
  insn.bytes.assign(ci.bytes, ci.bytes + ci.size);
  insn.text = ci.op_str[0] ? fmt::format("{} {}", ci.mnemonic, ci.op_str) : ci.mnemonic;
  insn.is_syscall = ci.id == X86_INS_SYSCALL;
  insn.is_sysenter = ci.id == X86_INS_SYSENTER;
  insn.is_int80 = ci.size == 2 && ci.bytes[0] == 0xcd && ci.bytes[1] == 0x80;
  insn.is_ret = cs_insn_group(handle, &ci, CS_GRP_RET);
  insn.is_call = cs_insn_group(handle, &ci, CS_GRP_CALL);
  classify_rel_branch(ci, insn);
  const bool any_branch = insn.is_call || cs_insn_group(handle, &ci, CS_GRP_JUMP);
  insn.is_indirect_branch = any_branch && !insn.is_rel_branch();
  insn.writes_rax = writes_rax(handle, ci);
  classify_memory(ci, insn);
  classify_rip_use(ci, insn);
  classify_traps(ci, insn);
  if (insn.is_sysenter) mark_unrelocatable(insn, "sysenter returns to a fixed address");
  if (cs_insn_group(handle, &ci, CS_GRP_IRET) || cs_insn_group(handle, &ci, CS_GRP_PRIVILEGE))
    mark_unrelocatable(insn, "a privileged instruction");
}

}  // namespace

Expected<Decoder> Decoder::open() {
  csh handle = 0;
  if (cs_err err = cs_open(CS_ARCH_X86, CS_MODE_64, &handle); err != CS_ERR_OK)
    return fail(fmt::format("cannot open Capstone: {}", cs_strerror(err)));
  if (cs_err err = cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON); err != CS_ERR_OK) {
    cs_close(&handle);
    return fail(fmt::format("cannot enable Capstone details: {}", cs_strerror(err)));
  }
  cs_insn* scratch = cs_malloc(handle);
  if (!scratch) {
    cs_close(&handle);
    return fail("cannot allocate a Capstone instruction");
  }
  return Decoder(handle, scratch);
}

Decoder::Decoder(Decoder&& other) noexcept
    : handle_(std::exchange(other.handle_, 0)), scratch_(std::exchange(other.scratch_, nullptr)) {}

Decoder& Decoder::operator=(Decoder&& other) noexcept {
  if (this != &other) {
    release();
    handle_ = std::exchange(other.handle_, 0);
    scratch_ = std::exchange(other.scratch_, nullptr);
  }
  return *this;
}

Decoder::~Decoder() {
  release();
}

void Decoder::release() {
  if (scratch_) cs_free(scratch_, 1);
  if (handle_) {
    csh handle = handle_;
    cs_close(&handle);
  }
  scratch_ = nullptr;
  handle_ = 0;
}

bool Decoder::decode_one(std::span<const uint8_t> code, uint64_t address, Insn& out) const {
  const uint8_t* ptr = code.data();
  size_t left = code.size();
  uint64_t addr = address;
  if (!cs_disasm_iter(handle_, &ptr, &left, &addr, scratch_)) return false;
  fill_insn(handle_, *scratch_, out);
  return true;
}

Expected<std::vector<Insn>> Decoder::decode(std::span<const uint8_t> code, uint64_t address,
                                            size_t max_insns) const {
  std::vector<Insn> out;
  size_t pos = 0;
  while (pos < code.size() && out.size() < max_insns) {
    Insn insn;
    if (!decode_one(code.subspan(pos), address + pos, insn)) break;
    pos += insn.size;
    out.push_back(std::move(insn));
  }
  if (out.empty() && !code.empty() && max_insns > 0)
    return fail(fmt::format("cannot decode an instruction at {:#x}", address));
  return out;
}

Expected<std::vector<Insn>> decode(std::span<const uint8_t> code, uint64_t address,
                                   size_t max_insns) {
  auto decoder = Decoder::open();
  if (!decoder) return std::unexpected(std::move(decoder).error());
  return decoder->decode(code, address, max_insns);
}

}  // namespace rrl::monkeypatch
