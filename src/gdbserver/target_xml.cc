// x86-64 target description and register encoding. One table lists every
// register gdb knows us to have, in gdb register-number order; the XML and the
// 'g' packet are both generated from it. Feature and register names are the
// ones gdb's i386 support looks for (org.gnu.gdb.i386.core and friends);
// the numbering follows gdb's usual amd64 GNU/Linux layout (orig_rax 57,
// fs_base/gs_base 58-59, ymm0h.. 60-75) so that nothing is surprising.
#include "gdbserver/target_xml.h"

#include <fmt/core.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "gdbserver/packet.h"

namespace rrl::gdb {
namespace {

constexpr std::string_view kFeatureNames[] = {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse",
                                              "org.gnu.gdb.i386.linux", "org.gnu.gdb.i386.segments",
                                              "org.gnu.gdb.i386.avx"};
enum Feature : uint8_t { kCore, kSse, kLinux, kSegments, kAvx };

// Standard XSAVE layout: header at 512 (XSTATE_BV first), YMM_Hi128 at 576.
constexpr size_t kXstateBvOffset = 512;
constexpr size_t kYmmHiOffset = 576;
constexpr uint64_t kYmmStateBit = 1u << 2;

#define GPR(field) RegSource::kGeneral, static_cast<uint16_t>(offsetof(user_regs_struct, field))
constexpr uint16_t kStOffset = offsetof(user_fpregs_struct, st_space);
constexpr uint16_t kXmmOffset = offsetof(user_fpregs_struct, xmm_space);

std::vector<RegisterInfo> build_table() {
  std::vector<RegisterInfo> t = {
      {"rax", 8, GPR(rax), "int64", "general", kCore},
      {"rbx", 8, GPR(rbx), "int64", "general", kCore},
      {"rcx", 8, GPR(rcx), "int64", "general", kCore},
      {"rdx", 8, GPR(rdx), "int64", "general", kCore},
      {"rsi", 8, GPR(rsi), "int64", "general", kCore},
      {"rdi", 8, GPR(rdi), "int64", "general", kCore},
      {"rbp", 8, GPR(rbp), "data_ptr", "general", kCore},
      {"rsp", 8, GPR(rsp), "data_ptr", "general", kCore},
      {"r8", 8, GPR(r8), "int64", "general", kCore},
      {"r9", 8, GPR(r9), "int64", "general", kCore},
      {"r10", 8, GPR(r10), "int64", "general", kCore},
      {"r11", 8, GPR(r11), "int64", "general", kCore},
      {"r12", 8, GPR(r12), "int64", "general", kCore},
      {"r13", 8, GPR(r13), "int64", "general", kCore},
      {"r14", 8, GPR(r14), "int64", "general", kCore},
      {"r15", 8, GPR(r15), "int64", "general", kCore},
      {"rip", 8, GPR(rip), "code_ptr", "general", kCore},
      {"eflags", 4, GPR(eflags), "i386_eflags", "general", kCore},
      {"cs", 4, GPR(cs), "int32", "general", kCore},
      {"ss", 4, GPR(ss), "int32", "general", kCore},
      {"ds", 4, GPR(ds), "int32", "general", kCore},
      {"es", 4, GPR(es), "int32", "general", kCore},
      {"fs", 4, GPR(fs), "int32", "general", kCore},
      {"gs", 4, GPR(gs), "int32", "general", kCore},
  };
  static constexpr std::string_view kSt[] = {"st0", "st1", "st2", "st3",
                                             "st4", "st5", "st6", "st7"};
  for (int i = 0; i < 8; ++i)
    t.push_back({kSt[i], 10, RegSource::kFpu, static_cast<uint16_t>(kStOffset + 16 * i), "i387_ext",
                 "", kCore});
  // FXSAVE64: fcw 0, fsw 2, abridged ftw 4, fop 6, fip 8 (64 bits), fdp 16.
  t.push_back({"fctrl", 4, RegSource::kFpu16, 0, "int", "float", kCore});
  t.push_back({"fstat", 4, RegSource::kFpu16, 2, "int", "float", kCore});
  t.push_back({"ftag", 4, RegSource::kFpuTag, 4, "int", "float", kCore});
  t.push_back({"fiseg", 4, RegSource::kFpu, 12, "int", "float", kCore});
  t.push_back({"fioff", 4, RegSource::kFpu, 8, "int", "float", kCore});
  t.push_back({"foseg", 4, RegSource::kFpu, 20, "int", "float", kCore});
  t.push_back({"fooff", 4, RegSource::kFpu, 16, "int", "float", kCore});
  t.push_back({"fop", 4, RegSource::kFpuOpcode, 6, "int", "float", kCore});
  static constexpr std::string_view kXmm[] = {"xmm0",  "xmm1",  "xmm2",  "xmm3", "xmm4",  "xmm5",
                                              "xmm6",  "xmm7",  "xmm8",  "xmm9", "xmm10", "xmm11",
                                              "xmm12", "xmm13", "xmm14", "xmm15"};
  for (int i = 0; i < 16; ++i)
    t.push_back({kXmm[i], 16, RegSource::kFpu, static_cast<uint16_t>(kXmmOffset + 16 * i), "vec128",
                 "", kSse});
  t.push_back({"mxcsr", 4, RegSource::kFpu, offsetof(user_fpregs_struct, mxcsr), "i386_mxcsr",
               "vector", kSse});
  t.push_back({"orig_rax", 8, GPR(orig_rax), "int", "system", kLinux});
  t.push_back({"fs_base", 8, GPR(fs_base), "int", "", kSegments});
  t.push_back({"gs_base", 8, GPR(gs_base), "int", "", kSegments});
  static constexpr std::string_view kYmmh[] = {
      "ymm0h", "ymm1h", "ymm2h",  "ymm3h",  "ymm4h",  "ymm5h",  "ymm6h",  "ymm7h",
      "ymm8h", "ymm9h", "ymm10h", "ymm11h", "ymm12h", "ymm13h", "ymm14h", "ymm15h"};
  for (int i = 0; i < 16; ++i)
    t.push_back({kYmmh[i], 16, RegSource::kXsave, static_cast<uint16_t>(kYmmHiOffset + 16 * i),
                 "uint128", "", kAvx});
  return t;
}
#undef GPR

const std::vector<RegisterInfo>& table() {
  static const std::vector<RegisterInfo> t = build_table();
  return t;
}

// Types the features refer to that gdb does not predefine.
constexpr std::string_view kCoreTypes = R"(    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/>
      <field name="PF" start="2" end="2"/>
      <field name="AF" start="4" end="4"/>
      <field name="ZF" start="6" end="6"/>
      <field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/>
      <field name="IF" start="9" end="9"/>
      <field name="DF" start="10" end="10"/>
      <field name="OF" start="11" end="11"/>
      <field name="NT" start="14" end="14"/>
      <field name="RF" start="16" end="16"/>
      <field name="VM" start="17" end="17"/>
      <field name="AC" start="18" end="18"/>
      <field name="VIF" start="19" end="19"/>
      <field name="VIP" start="20" end="20"/>
      <field name="ID" start="21" end="21"/>
    </flags>
)";
constexpr std::string_view kSseTypes = R"(    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <flags id="i386_mxcsr" size="4">
      <field name="IE" start="0" end="0"/>
      <field name="DE" start="1" end="1"/>
      <field name="ZE" start="2" end="2"/>
      <field name="OE" start="3" end="3"/>
      <field name="UE" start="4" end="4"/>
      <field name="PE" start="5" end="5"/>
      <field name="DAZ" start="6" end="6"/>
      <field name="IM" start="7" end="7"/>
      <field name="DM" start="8" end="8"/>
      <field name="ZM" start="9" end="9"/>
      <field name="OM" start="10" end="10"/>
      <field name="UM" start="11" end="11"/>
      <field name="PM" start="12" end="12"/>
      <field name="FZ" start="15" end="15"/>
    </flags>
)";

std::string build_xml() {
  std::string xml =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
      "<target version=\"1.0\">\n"
      "  <architecture>i386:x86-64</architecture>\n"
      "  <osabi>GNU/Linux</osabi>\n";
  const auto& regs = table();
  for (uint8_t f = 0; f < std::size(kFeatureNames); ++f) {
    xml += fmt::format("  <feature name=\"{}\">\n", kFeatureNames[f]);
    if (f == kCore) xml += kCoreTypes;
    if (f == kSse) xml += kSseTypes;
    for (size_t n = 0; n < regs.size(); ++n) {
      const RegisterInfo& r = regs[n];
      if (r.feature != f) continue;
      xml += fmt::format("    <reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"", r.name,
                         r.size * 8, r.type, n);
      if (!r.group.empty()) xml += fmt::format(" group=\"{}\"", r.group);
      xml += "/>\n";
    }
    xml += "  </feature>\n";
  }
  xml += "</target>\n";
  return xml;
}

uint64_t load_le(const void* base, size_t offset, size_t size) {
  uint64_t value = 0;
  std::memcpy(&value, static_cast<const uint8_t*>(base) + offset, size);
  return value;
}

// The x87 tag of one 80-bit register: 0 valid, 1 zero, 2 special, 3 empty.
unsigned classify_x87(const uint8_t* reg) {
  uint64_t mantissa = load_le(reg, 0, 8);
  unsigned exponent = static_cast<unsigned>(load_le(reg, 8, 2)) & 0x7fff;
  if (exponent == 0x7fff) return 2;
  if (exponent == 0) return mantissa == 0 ? 1 : 2;
  return (mantissa >> 63) != 0 ? 0 : 2;
}

// FXSAVE keeps one "not empty" bit per physical register; gdb wants the full
// two-bit tags, indexed by physical register, so rebuild them from the values.
uint32_t full_tag_word(const user_fpregs_struct& fp) {
  unsigned top = (fp.swd >> 11) & 7;
  uint32_t tags = 0;
  for (unsigned phys = 0; phys < 8; ++phys) {
    unsigned tag = 3;
    if ((fp.ftw >> phys) & 1) {
      unsigned st = (phys - top) & 7;  // st_space is in stack order
      tag = classify_x87(reinterpret_cast<const uint8_t*>(fp.st_space) + 16 * st);
    }
    tags |= tag << (2 * phys);
  }
  return tags;
}

std::string encode_xsave(const RegisterInfo& r, std::span<const uint8_t> xsave) {
  if (xsave.size() < static_cast<size_t>(r.offset) + r.size) return std::string(r.size * 2u, 'x');
  // A component whose XSTATE_BV bit is clear is in its initial state: zeros.
  uint64_t xstate_bv = load_le(xsave.data(), kXstateBvOffset, 8);
  if ((xstate_bv & kYmmStateBit) == 0) return std::string(r.size * 2u, '0');
  return hex_encode(xsave.subspan(r.offset, r.size));
}

std::string encode_one(const RegisterInfo& r, const Registers& regs, const user_fpregs_struct& fp,
                       std::span<const uint8_t> xsave) {
  switch (r.source) {
    case RegSource::kGeneral:
      return hex_encode_le(load_le(&regs.r, r.offset, 8), r.size);
    case RegSource::kFpu:
      return hex_encode(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&fp) + r.offset, r.size));
    case RegSource::kFpu16:
      return hex_encode_le(load_le(&fp, r.offset, 2), r.size);
    case RegSource::kFpuTag:
      return hex_encode_le(full_tag_word(fp), r.size);
    case RegSource::kFpuOpcode:
      return hex_encode_le(load_le(&fp, r.offset, 2) & 0x7ff, r.size);
    case RegSource::kXsave:
      return encode_xsave(r, xsave);
  }
  return std::string(r.size * 2u, 'x');
}

}  // namespace

std::span<const RegisterInfo> register_table() {
  return table();
}

size_t register_offset(int regno) {
  RRL_ASSERT(regno >= 0 && static_cast<size_t>(regno) <= table().size());
  size_t offset = 0;
  for (int n = 0; n < regno; ++n) offset += table()[n].size;
  return offset;
}

const std::string& target_xml() {
  static const std::string xml = build_xml();
  return xml;
}

std::string encode_all_registers(const Registers& regs, const user_fpregs_struct& fpregs,
                                 std::span<const uint8_t> xsave) {
  std::string out;
  for (const RegisterInfo& r : table()) out += encode_one(r, regs, fpregs, xsave);
  return out;
}

Expected<std::string> encode_register(int regno, const Registers& regs,
                                      const user_fpregs_struct& fpregs,
                                      std::span<const uint8_t> xsave) {
  if (regno < 0 || static_cast<size_t>(regno) >= table().size())
    return fail(fmt::format("no register number {}", regno));
  return encode_one(table()[regno], regs, fpregs, xsave);
}

}  // namespace rrl::gdb
