// Where control can enter a function: the direct branch and call targets
// inside it, and the function's bounds, found from ELF symbols or unwind info.
//
// A patch region must not contain the target of any branch except at its first
// byte, otherwise a jump would land in the middle of our 5-byte jmp. The
// caller sweeps the whole enclosing function (its bounds come from
// function_bounds()) and hands the targets to choose_region().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "monkeypatch/decode.h"

namespace rrl::monkeypatch {

// Linear sweep over code (a function body at address): every target of a
// direct jmp/jcc/call/loop, plus every [rip + disp] address computed by `lea`
// that falls inside the body (a code address taken by lea is usually jumped to
// later, as in switch tables and computed gotos). Undecodable bytes are skipped.
std::set<uint64_t> collect_branch_targets(const Decoder& decoder, std::span<const uint8_t> code,
                                          uint64_t address);
Expected<std::set<uint64_t>> collect_branch_targets(std::span<const uint8_t> code,
                                                    uint64_t address);
// The same from instructions already decoded: the whole of a body [address,
// end) that decoded without a gap (then the sweep would see just these).
std::set<uint64_t> collect_branch_targets(std::span<const Insn> insns, uint64_t address,
                                          uint64_t end);

// [start, end) of one function, in the ELF image's link-time addresses.
struct FunctionBounds {
  uint64_t start = 0;
  uint64_t end = 0;
  bool contains(uint64_t addr) const { return addr >= start && addr < end; }
};

// The function containing vaddr (a link-time address: the caller subtracts
// the load bias). image is the ELF file's bytes (for the vdso, the mapping).
// Looks in .symtab, then .dynsym (STT_FUNC/STT_GNU_IFUNC with a size), then
// in the .eh_frame_hdr lookup table (PT_GNU_EH_FRAME), which stripped
// libraries such as libc still have. nullopt when nothing covers vaddr; an
// error when the image is not a readable ELF file.
//
// .eh_frame_hdr support: the lookup table must use DW_EH_PE_datarel|sdata4
// (0x3b, what every GNU toolchain emits); FDE pointers may use absptr, udata/
// sdata 2/4/8, with absolute, pcrel or datarel application (gcc emits
// pcrel|sdata4, 0x1b). Indirect pointers and 64-bit DWARF lengths are refused.
Expected<std::optional<FunctionBounds>> function_bounds(std::span<const uint8_t> image,
                                                        uint64_t vaddr);
Expected<std::optional<FunctionBounds>> function_bounds_from_file(const std::string& path,
                                                                  uint64_t vaddr);

// The functions of one ELF image, for many lookups: function_bounds() reads
// the symbol tables again at every call (copying the image for libelf), which
// the recorder cannot afford at every site of every process it patches.
// lookup() answers exactly as function_bounds() does.
class FunctionIndex {
 public:
  // Maps the file privately (libelf may write to its image; nothing is
  // copied or read beyond the pages the tables are on).
  static Expected<std::unique_ptr<FunctionIndex>> open(const std::string& path);
  ~FunctionIndex();
  FunctionIndex(const FunctionIndex&) = delete;
  FunctionIndex& operator=(const FunctionIndex&) = delete;
  Expected<std::optional<FunctionBounds>> lookup(uint64_t vaddr) const;

  // A PT_LOAD segment: link-time addresses [vaddr, vaddr + filesz) at offset.
  struct Segment {
    uint64_t vaddr = 0, offset = 0, filesz = 0;
  };

 private:
  FunctionIndex() = default;
  std::span<uint8_t> image_;             // the mapping
  std::vector<FunctionBounds> symbols_;  // .symtab's functions, then .dynsym's, in table order
  std::vector<Segment> loads_;
  std::optional<uint64_t> eh_frame_hdr_;
};

// Only the .eh_frame_hdr part of function_bounds (exposed for tests).
Expected<std::optional<FunctionBounds>> function_bounds_from_eh_frame(
    std::span<const uint8_t> image, uint64_t vaddr);

}  // namespace rrl::monkeypatch
