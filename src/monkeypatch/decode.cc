#include "monkeypatch/decode.h"

#include <capstone/capstone.h>
#include <fmt/core.h>

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
