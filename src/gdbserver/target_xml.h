// The x86-64 register set as gdb sees it: the target description XML that
// qXfer:features:read:target.xml returns, and the table saying where each
// register's bytes come from. Both are generated from one table, so the
// numbering gdb derives from the XML (explicit regnum attributes) is the
// order of the 'g' packet by construction.
#pragma once

#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/registers.h"

namespace rrl::gdb {

enum class RegSource : uint8_t {
  kGeneral,    // user_regs_struct, at `offset`
  kFpu,        // user_fpregs_struct (FXSAVE layout), at `offset`
  kFpu16,      // a 16-bit FXSAVE field, zero-extended
  kFpuTag,     // the full x87 tag word, rebuilt from FXSAVE's abridged one
  kFpuOpcode,  // FXSAVE's fop, 11 bits
  kXsave,      // the XSAVE area, at `offset` (YMM_Hi128 component)
};

struct RegisterInfo {
  std::string_view name;
  uint8_t size;  // bytes in the 'g' packet
  RegSource source;
  uint16_t offset;
  std::string_view type;   // gdb tdesc type
  std::string_view group;  // gdb register group, may be empty
  uint8_t feature;         // index into the feature list in target_xml.cc
};

// Indexed by gdb register number.
std::span<const RegisterInfo> register_table();
// Register numbers of a few registers tests and callers care about.
inline constexpr int kRegRip = 16;
inline constexpr int kRegEflags = 17;
inline constexpr int kRegSt0 = 24;
inline constexpr int kRegXmm0 = 40;
inline constexpr int kRegMxcsr = 56;
inline constexpr int kRegOrigRax = 57;
inline constexpr int kRegFsBase = 58;
inline constexpr int kRegYmm0h = 60;
inline constexpr int kRegCount = 76;

// Byte offset of register `regno` in the 'g' packet's data (before hex).
size_t register_offset(int regno);

const std::string& target_xml();

// 'g' reply: all registers in register-number order. An empty `xsave` marks
// the ymm upper halves unavailable ("xx" per byte).
std::string encode_all_registers(const Registers& regs, const user_fpregs_struct& fpregs,
                                 std::span<const uint8_t> xsave);
// 'p' reply for one register; an error for a number gdb should not have sent.
Expected<std::string> encode_register(int regno, const Registers& regs,
                                      const user_fpregs_struct& fpregs,
                                      std::span<const uint8_t> xsave);

}  // namespace rrl::gdb
