#include "vdso/vdso.h"

#include <elf.h>
#include <fmt/core.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>

namespace rrl::vdso {
namespace {

// How a known vdso function is rewritten.
enum class StubKind {
  kSyscall64,  // x86-64: registers already hold the syscall arguments
  kInt80,      // i386: cdecl arguments live on the stack, int $0x80 wants registers
  kEnosys64,   // x86-64: refuse, so the caller falls back to the real syscall
};

struct KnownFunction {
  std::string_view name;
  StubKind kind;
  int64_t nr;     // syscall number for the tracee's architecture
  int arg_count;  // i386 only: how many stack arguments to load
};

// x86-64 exports each function twice (plain name and __vdso_ alias) at one
// address; listing both keeps us correct if a kernel ever drops one of them.
constexpr KnownFunction kX8664Functions[] = {
    {"clock_gettime", StubKind::kSyscall64, SYS_clock_gettime, 0},
    {"__vdso_clock_gettime", StubKind::kSyscall64, SYS_clock_gettime, 0},
    {"gettimeofday", StubKind::kSyscall64, SYS_gettimeofday, 0},
    {"__vdso_gettimeofday", StubKind::kSyscall64, SYS_gettimeofday, 0},
    {"time", StubKind::kSyscall64, SYS_time, 0},
    {"__vdso_time", StubKind::kSyscall64, SYS_time, 0},
    {"getcpu", StubKind::kSyscall64, SYS_getcpu, 0},
    {"__vdso_getcpu", StubKind::kSyscall64, SYS_getcpu, 0},
    {"clock_getres", StubKind::kSyscall64, SYS_clock_getres, 0},
    {"__vdso_clock_getres", StubKind::kSyscall64, SYS_clock_getres, 0},
    // vgetrandom (Linux 6.11+) takes an opaque state and would produce random
    // bytes invisibly. Its ABI is not getrandom(2)'s, so it cannot become the
    // syscall; libc (glibc 2.41+, Go) probes it once and uses getrandom(2)
    // when the probe returns non-zero.
    {"getrandom", StubKind::kEnosys64, 0, 0},
    {"__vdso_getrandom", StubKind::kEnosys64, 0, 0},
};

// i386 numbers are spelled out: <sys/syscall.h> only has the build host's
// (x86-64) table, and asm/unistd_32.h clashes with it.
constexpr KnownFunction kI386Functions[] = {
    {"__vdso_clock_gettime", StubKind::kInt80, 265, 2},
    {"__vdso_gettimeofday", StubKind::kInt80, 78, 2},
    {"__vdso_time", StubKind::kInt80, 13, 1},
    {"__vdso_clock_gettime64", StubKind::kInt80, 403, 2},
    {"__vdso_clock_getres", StubKind::kInt80, 266, 2},
    {"__vdso_clock_getres_time64", StubKind::kInt80, 406, 2},
    {"__vdso_getcpu", StubKind::kInt80, 318, 3},
};

void put_le32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// Encodings are written out byte by byte; each line names its instruction.
std::vector<uint8_t> build_stub(const KnownFunction& fn) {
  std::vector<uint8_t> out;
  switch (fn.kind) {
    case StubKind::kSyscall64:
      out.push_back(0xb8);  // mov eax, imm32 (zero-extends into rax)
      put_le32(out, static_cast<uint32_t>(fn.nr));
      out.insert(out.end(), {0x0f, 0x05});  // syscall
      out.push_back(0xc3);                  // ret
      break;
    case StubKind::kInt80: {
      out.push_back(0x53);  // push ebx: callee-saved in cdecl, int $0x80 needs it
      // mov ebx/ecx/edx, [esp + 8 + 4*i]: past the saved ebx and return address.
      constexpr uint8_t kModrm[] = {0x5c, 0x4c, 0x54};
      for (int i = 0; i < fn.arg_count; ++i)
        out.insert(out.end(), {0x8b, kModrm[i], 0x24, static_cast<uint8_t>(8 + 4 * i)});
      out.push_back(0xb8);  // mov eax, imm32
      put_le32(out, static_cast<uint32_t>(fn.nr));
      out.insert(out.end(), {0xcd, 0x80});  // int $0x80
      out.push_back(0x5b);                  // pop ebx
      out.push_back(0xc3);                  // ret
      break;
    }
    case StubKind::kEnosys64:
      out.insert(out.end(), {0x48, 0xc7, 0xc0});  // mov rax, sign-extended imm32
      put_le32(out, static_cast<uint32_t>(-ENOSYS));
      out.push_back(0xc3);  // ret
      break;
  }
  return out;
}

bool libelf_ready() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};

// libelf's elf_memory may convert data in place, so it gets its own copy.
// Declaration order matters: the Elf handle dies before the bytes it points to.
struct ElfImage {
  std::vector<char> bytes;
  std::unique_ptr<Elf, ElfCloser> elf;
};

Expected<ElfImage> open_image(std::span<const uint8_t> image) {
  if (!libelf_ready()) return fail("libelf is too old for this program (elf_version failed)");
  if (image.size() < EI_NIDENT) return fail("vdso image is too small to be an ELF file");
  ElfImage out;
  out.bytes.assign(image.begin(), image.end());
  out.elf.reset(elf_memory(out.bytes.data(), out.bytes.size()));
  if (!out.elf || elf_kind(out.elf.get()) != ELF_K_ELF)
    return fail("vdso image is not an ELF file");
  return out;
}

// Checks the class/machine pair we know how to patch; returns the ELF class.
Expected<int> check_header(Elf* elf) {
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(elf, &ehdr))
    return fail(fmt::format("bad vdso ELF header: {}", elf_errmsg(-1)));
  const int elf_class = gelf_getclass(elf);
  if (elf_class == ELFCLASS64 && ehdr.e_machine == EM_X86_64) return elf_class;
  if (elf_class == ELFCLASS32 && ehdr.e_machine == EM_386) return elf_class;
  return fail(fmt::format("unsupported vdso: ELF class {}, machine {}", elf_class, ehdr.e_machine));
}

// The vdso may be linked at a non-zero address (old i386 kernels used
// 0xffffe000); symbol values are relative to the lowest PT_LOAD.
Expected<uint64_t> link_base(Elf* elf) {
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0)
    return fail(fmt::format("bad vdso program headers: {}", elf_errmsg(-1)));
  std::optional<uint64_t> lowest;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (!gelf_getphdr(elf, static_cast<int>(i), &phdr))
      return fail(fmt::format("bad vdso program header {}: {}", i, elf_errmsg(-1)));
    if (phdr.p_type == PT_LOAD) lowest = std::min(lowest.value_or(phdr.p_vaddr), phdr.p_vaddr);
  }
  if (!lowest) return fail("vdso image has no PT_LOAD segment");
  return *lowest;
}

Expected<Elf_Scn*> find_dynsym(Elf* elf) {
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_DYNSYM) return scn;
  }
  return fail("vdso image has no .dynsym section");
}

bool is_exported_function(const GElf_Sym& sym) {
  const int bind = GELF_ST_BIND(sym.st_info);
  return GELF_ST_TYPE(sym.st_info) == STT_FUNC && (bind == STB_GLOBAL || bind == STB_WEAK) &&
         sym.st_shndx != SHN_UNDEF && sym.st_shndx < SHN_LORESERVE;
}

struct ParsedImage {
  int elf_class = ELFCLASSNONE;
  std::vector<Symbol> symbols;
};

// Turns one dynsym entry into a Symbol, refusing anything outside the image.
Expected<Symbol> make_symbol(Elf* elf, size_t strtab, const GElf_Sym& sym, uint64_t base,
                             size_t image_size) {
  const char* name = elf_strptr(elf, strtab, sym.st_name);
  if (!name) return fail(fmt::format("vdso symbol name unreadable: {}", elf_errmsg(-1)));
  const uint64_t offset = sym.st_value - base;
  if (sym.st_value < base || offset >= image_size || sym.st_size > image_size - offset)
    return fail(fmt::format("vdso symbol {} (value {:#x}, size {}) lies outside the {}-byte image",
                            name, sym.st_value, sym.st_size, image_size));
  return Symbol{name, offset, sym.st_size};
}

Expected<ParsedImage> parse_image(std::span<const uint8_t> image) {
  auto opened = open_image(image);
  if (!opened) return std::unexpected(opened.error());
  Elf* elf = opened->elf.get();
  ParsedImage out;
  auto elf_class = check_header(elf);
  if (!elf_class) return std::unexpected(elf_class.error());
  out.elf_class = *elf_class;
  auto base = link_base(elf);
  if (!base) return std::unexpected(base.error());
  auto scn = find_dynsym(elf);
  if (!scn) return std::unexpected(scn.error());
  GElf_Shdr shdr;
  Elf_Data* data = elf_getdata(*scn, nullptr);
  const size_t entry_size = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
  if (!gelf_getshdr(*scn, &shdr) || !data || entry_size == 0)
    return fail(fmt::format("vdso .dynsym unreadable: {}", elf_errmsg(-1)));
  for (size_t i = 0; i < data->d_size / entry_size; ++i) {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(i), &sym))
      return fail(fmt::format("vdso symbol {} unreadable: {}", i, elf_errmsg(-1)));
    if (!is_exported_function(sym)) continue;
    auto symbol = make_symbol(elf, shdr.sh_link, sym, *base, image.size());
    if (!symbol) return std::unexpected(symbol.error());
    out.symbols.push_back(std::move(*symbol));
  }
  return out;
}

const KnownFunction* find_known(std::span<const KnownFunction> table, std::string_view name) {
  auto it = std::ranges::find(table, name, &KnownFunction::name);
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

Expected<std::vector<Symbol>> parse_symbols(std::span<const uint8_t> image) {
  auto parsed = parse_image(image);
  if (!parsed) return std::unexpected(parsed.error());
  return std::move(parsed->symbols);
}

Expected<std::vector<Patch>> syscall_patches(std::span<const uint8_t> image, uint64_t base) {
  auto parsed = parse_image(image);
  if (!parsed) return std::unexpected(parsed.error());
  using Table = std::span<const KnownFunction>;
  const Table table =
      parsed->elf_class == ELFCLASS64 ? Table(kX8664Functions) : Table(kI386Functions);
  // Aliases share an address; keyed by offset so each is written once.
  std::map<uint64_t, Patch> by_offset;
  for (const Symbol& sym : parsed->symbols) {
    const KnownFunction* fn = find_known(table, sym.name);
    if (!fn) continue;
    std::vector<uint8_t> bytes = build_stub(*fn);
    if (sym.size != 0 && sym.size < bytes.size())
      return fail(fmt::format("vdso function {} is {} bytes, too small for a {}-byte stub",
                              sym.name, sym.size, bytes.size()));
    if (bytes.size() > image.size() - sym.offset)
      return fail(fmt::format("vdso function {} ends past the image", sym.name));
    auto [it, inserted] =
        by_offset.try_emplace(sym.offset, Patch{base + sym.offset, bytes, sym.name});
    if (!inserted && it->second.bytes != bytes)
      return fail(fmt::format("vdso functions {} and {} share an address but need different stubs",
                              it->second.symbol, sym.name));
  }
  std::vector<Patch> out;
  for (auto& [offset, patch] : by_offset) out.push_back(std::move(patch));
  return out;
}

std::optional<int64_t> vsyscall_number(uint64_t ip) {
  switch (ip) {
    case kVsyscallBase + 0x000:
      return SYS_gettimeofday;
    case kVsyscallBase + 0x400:
      return SYS_time;
    case kVsyscallBase + 0x800:
      return SYS_getcpu;
    default:
      return std::nullopt;
  }
}

std::optional<uint64_t> auxv_lookup(std::span<const uint8_t> auxv, uint64_t type, bool is_32bit) {
  const size_t word = is_32bit ? 4 : 8;
  // memcpy: the buffer carries no alignment guarantee.
  auto read_word = [&](size_t at) -> uint64_t {
    if (is_32bit) {
      uint32_t value;
      std::memcpy(&value, auxv.data() + at, sizeof value);
      return value;
    }
    uint64_t value;
    std::memcpy(&value, auxv.data() + at, sizeof value);
    return value;
  };
  for (size_t at = 0; auxv.size() - at >= 2 * word; at += 2 * word) {
    const uint64_t entry_type = read_word(at);
    if (entry_type == AT_NULL) break;
    if (entry_type == type) return read_word(at + word);
  }
  return std::nullopt;
}

}  // namespace rrl::vdso
