#include "monkeypatch/anchor.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include "common/scoped_fd.h"
#include "monkeypatch/branch_targets.h"
#include "monkeypatch/decode.h"

namespace rrl::monkeypatch {

Expected<uint64_t> vaddr_of_file_offset(const std::string& path, uint64_t offset) {
  if (elf_version(EV_CURRENT) == EV_NONE) return fail("libelf is unusable");
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("open " + path);
  Elf* elf = elf_begin(fd.get(), ELF_C_READ, nullptr);
  if (!elf) return fail(path + " is not an ELF file");
  std::optional<uint64_t> out;
  size_t n = 0;
  if (elf_getphdrnum(elf, &n) == 0) {
    for (size_t i = 0; i < n && !out; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_LOAD) continue;
      if (offset >= ph.p_offset && offset < ph.p_offset + ph.p_filesz)
        out = ph.p_vaddr + (offset - ph.p_offset);
    }
  }
  elf_end(elf);
  if (!out) return fail("no loadable segment of " + path + " holds that offset");
  return *out;
}

Expected<FunctionCode> function_code_at(const std::string& path, uint64_t map_start,
                                        uint64_t map_offset, uint64_t ip, const ReadMemory& read) {
  auto vaddr = vaddr_of_file_offset(path, ip - map_start + map_offset);
  if (!vaddr) return std::unexpected(vaddr.error());
  auto bounds = function_bounds_from_file(path, *vaddr);
  if (!bounds) return std::unexpected(bounds.error());
  if (!*bounds) return fail("no function bounds known there");
  uint64_t bias = ip - *vaddr;
  FunctionCode f;
  f.start = (*bounds)->start + bias;
  f.end = (*bounds)->end + bias;
  if (f.end <= f.start || f.end - f.start > (16 << 20)) return fail("implausible function bounds");
  f.code.resize(f.end - f.start);
  RRL_TRY(read(f.start, f.code));
  auto targets = collect_branch_targets(f.code, f.start);
  if (!targets) return std::unexpected(targets.error());
  f.targets = std::move(*targets);
  return f;
}

size_t rep_string_length(std::span<const uint8_t> code) {
  bool rep = false;
  size_t i = 0;
  for (; i < code.size() && i < 15; ++i) {
    uint8_t b = code[i];
    if (b == 0xf2 || b == 0xf3) {
      rep = true;
      continue;
    }
    bool legacy = b == 0x66 || b == 0x67 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 ||
                  b == 0x64 || b == 0x65;
    if (legacy || (b & 0xf0) == 0x40) continue;  // other prefixes, REX
    break;
  }
  if (!rep || i >= code.size()) return 0;
  uint8_t op = code[i];
  bool string_op = (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) ||
                   (op >= 0x6c && op <= 0x6f);
  return string_op ? i + 1 : 0;
}

Expected<PatchRegion> anchor_region(const FunctionCode& function, uint64_t ip) {
  if (!function.contains(ip)) return fail("the address is outside the function");
  auto code = std::span(function.code).subspan(ip - function.start);
  if (rep_string_length(code) != 0)
    return fail("a repeated string instruction (a stop inside it cannot be found again)");
  auto insns = decode(code, ip, 8);
  if (!insns) return std::unexpected(insns.error());
  RegionOptions options;
  options.must_start_at_site = true;
  // (No calls: one that is moved returns into the stub, which may be gone by then.)
  return choose_region(*insns, ip, function.targets, options);
}

}  // namespace rrl::monkeypatch
