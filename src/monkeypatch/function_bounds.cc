// function_bounds(): symbol tables first, then the .eh_frame_hdr lookup table.
//
// .eh_frame_hdr (pointed to by PT_GNU_EH_FRAME) is a sorted table of
// (initial location, FDE address) pairs. We binary-search it for the last
// entry at or below vaddr, read that FDE's pc_begin/pc_range (their encoding
// comes from the 'R' entry of the CIE's augmentation), and check that vaddr
// lies inside. All addresses are link-time virtual addresses; PT_LOAD headers
// translate them into offsets of the file image.
#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "common/scoped_fd.h"
#include "monkeypatch/branch_targets.h"
#include "monkeypatch/le.h"

namespace rrl::monkeypatch {
namespace {

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfCloser>;

// libelf may convert data in place, so it reads a private copy.
struct OpenElf {
  std::vector<uint8_t> bytes;
  ElfPtr elf;
};

// An image libelf may write to, read in place.
Expected<ElfPtr> open_elf_in_place(std::span<uint8_t> image) {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  if (!ready) return fail("libelf is too old for this program (elf_version failed)");
  ElfPtr elf(elf_memory(reinterpret_cast<char*>(image.data()), image.size()));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return fail(fmt::format("not an ELF image: {}", elf_errmsg(-1)));
  return elf;
}

Expected<OpenElf> open_elf(std::span<const uint8_t> image) {
  OpenElf out;
  out.bytes.assign(image.begin(), image.end());
  auto elf = open_elf_in_place(out.bytes);
  if (!elf) return std::unexpected(std::move(elf).error());
  out.elf = std::move(*elf);
  return out;
}

// The functions (STT_FUNC/STT_GNU_IFUNC with a size) of one symbol table, in
// table order.
void collect_functions(Elf* elf, uint32_t section_type, std::vector<FunctionBounds>& out) {
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != section_type || shdr.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) continue;
    const size_t count = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
      const int type = GELF_ST_TYPE(sym.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
          sym.st_size == 0)
        continue;
      out.push_back({sym.st_value, sym.st_value + sym.st_size});
    }
  }
}

// The first of `functions` that contains vaddr.
std::optional<FunctionBounds> first_containing(std::span<const FunctionBounds> functions,
                                               uint64_t vaddr) {
  for (const FunctionBounds& f : functions)
    if (f.contains(vaddr)) return f;
  return std::nullopt;
}

using Segment = FunctionIndex::Segment;

// The PT_LOAD segments and the PT_GNU_EH_FRAME address of an image.
void read_layout(Elf* elf, std::vector<Segment>& loads, std::optional<uint64_t>& eh_frame_hdr) {
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (!gelf_getphdr(elf, static_cast<int>(i), &phdr)) continue;
    if (phdr.p_type == PT_LOAD) loads.push_back({phdr.p_vaddr, phdr.p_offset, phdr.p_filesz});
    if (phdr.p_type == PT_GNU_EH_FRAME) eh_frame_hdr = phdr.p_vaddr;
  }
}

// The image's bytes addressed by link-time virtual address.
class VaddrView {
 public:
  VaddrView(std::span<const uint8_t> image, std::span<const Segment> loads,
            std::optional<uint64_t> eh_frame_hdr)
      : image_(image), loads_(loads), eh_frame_hdr_(eh_frame_hdr) {}
  std::optional<uint64_t> eh_frame_hdr() const { return eh_frame_hdr_; }
  // Bytes [vaddr, vaddr + len) or an empty span when not all in the file.
  std::span<const uint8_t> at(uint64_t vaddr, size_t len) const {
    for (const Segment& load : loads_) {
      if (vaddr < load.vaddr || vaddr + len > load.vaddr + load.filesz) continue;
      const uint64_t offset = load.offset + (vaddr - load.vaddr);
      if (offset + len > image_.size()) return {};
      return image_.subspan(offset, len);
    }
    return {};
  }

 private:
  std::span<const uint8_t> image_;
  std::span<const Segment> loads_;
  std::optional<uint64_t> eh_frame_hdr_;
};

// A cursor reading DWARF-encoded values at increasing virtual addresses.
class Reader {
 public:
  Reader(const VaddrView& view, uint64_t vaddr) : view_(view), pos_(vaddr) {}
  uint64_t pos() const { return pos_; }
  std::optional<uint64_t> fixed(size_t size) {
    auto bytes = view_.at(pos_, size);
    if (bytes.size() != size) return std::nullopt;
    pos_ += size;
    return read_le(bytes, 0, size);
  }
  std::optional<uint64_t> uleb() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      auto byte = fixed(1);
      if (!byte) return std::nullopt;
      value |= (*byte & 0x7f) << shift;
      if (!(*byte & 0x80)) return value;
    }
    return std::nullopt;
  }
  std::optional<std::string> cstring() {
    std::string out;
    for (auto c = fixed(1); c; c = fixed(1)) {
      if (*c == 0) return out;
      out.push_back(static_cast<char>(*c));
    }
    return std::nullopt;
  }
  // A DW_EH_PE-encoded pointer; data_base is used by datarel.
  std::optional<uint64_t> encoded(uint8_t enc, uint64_t data_base, bool apply = true);

 private:
  const VaddrView& view_;
  uint64_t pos_;
};

std::optional<uint64_t> Reader::encoded(uint8_t enc, uint64_t data_base, bool apply) {
  const uint64_t field = pos_;
  std::optional<uint64_t> raw;
  switch (enc & 0x0f) {
    case 0x00:
      raw = fixed(8);
      break;  // absptr
    case 0x02:
      raw = fixed(2);
      break;  // udata2
    case 0x03:
      raw = fixed(4);
      break;  // udata4
    case 0x04:
    case 0x0c:
      raw = fixed(8);
      break;  // u/sdata8
    case 0x0a:
      if ((raw = fixed(2))) raw = uint64_t(int64_t(int16_t(*raw)));
      break;
    case 0x0b:
      if ((raw = fixed(4))) raw = uint64_t(int64_t(int32_t(*raw)));
      break;
    default:
      return std::nullopt;
  }
  if (!raw || !apply) return raw;
  switch (enc & 0xf0) {
    case 0x00:
      return raw;
    case 0x10:
      return field + *raw;  // pcrel
    case 0x30:
      return data_base + *raw;  // datarel
    default:
      return std::nullopt;  // textrel, funcrel, indirect
  }
}

// The FDE pointer encoding named by the CIE at cie_vaddr ('R' augmentation).
std::optional<uint8_t> cie_pointer_encoding(const VaddrView& view, uint64_t cie_vaddr) {
  Reader r(view, cie_vaddr);
  auto length = r.fixed(4);
  auto id = r.fixed(4);
  auto version = r.fixed(1);
  auto augmentation = r.cstring();
  if (!length || *length == 0xffffffff || !id || *id != 0 || !version || !augmentation)
    return std::nullopt;
  if (!r.uleb() || !r.uleb()) return std::nullopt;                    // code and data alignment
  if (!(*version == 1 ? r.fixed(1) : r.uleb())) return std::nullopt;  // return register
  if (augmentation->empty() || (*augmentation)[0] != 'z') return uint8_t{0};  // absptr
  if (!r.uleb()) return std::nullopt;
  for (char c : augmentation->substr(1)) {
    if (c == 'R') {
      auto enc = r.fixed(1);
      return enc ? std::optional<uint8_t>(static_cast<uint8_t>(*enc)) : std::nullopt;
    }
    if (c == 'L' && !r.fixed(1)) return std::nullopt;
    if (c == 'P') {
      auto penc = r.fixed(1);
      if (!penc || !r.encoded(static_cast<uint8_t>(*penc), 0, /*apply=*/false)) return std::nullopt;
    }
  }
  return uint8_t{0};
}

std::optional<FunctionBounds> read_fde(const VaddrView& view, uint64_t fde_vaddr) {
  Reader r(view, fde_vaddr);
  auto length = r.fixed(4);
  if (!length || *length == 0 || *length == 0xffffffff) return std::nullopt;
  const uint64_t cie_field = r.pos();
  auto cie_offset = r.fixed(4);
  if (!cie_offset || *cie_offset == 0) return std::nullopt;  // 0 would be a CIE
  auto enc = cie_pointer_encoding(view, cie_field - *cie_offset);
  if (!enc) return std::nullopt;
  auto begin = r.encoded(*enc, 0);
  auto range = r.encoded(*enc & 0x0f, 0);
  if (!begin || !range) return std::nullopt;
  return FunctionBounds{*begin, *begin + *range};
}

Expected<std::optional<FunctionBounds>> lookup_eh_frame(const VaddrView& view, uint64_t vaddr) {
  if (!view.eh_frame_hdr()) return std::optional<FunctionBounds>();
  const uint64_t hdr = *view.eh_frame_hdr();
  Reader r(view, hdr);
  auto version = r.fixed(1);
  auto ptr_enc = r.fixed(1);
  auto count_enc = r.fixed(1);
  auto table_enc = r.fixed(1);
  if (!version || *version != 1 || !ptr_enc || !count_enc || !table_enc)
    return fail("unsupported .eh_frame_hdr header");
  if (*table_enc != 0x3b)
    return fail(
        fmt::format(".eh_frame_hdr table encoding {:#x} is not datarel|sdata4", *table_enc));
  auto eh_frame = r.encoded(static_cast<uint8_t>(*ptr_enc), hdr);
  auto count = r.encoded(static_cast<uint8_t>(*count_enc), hdr);
  if (!eh_frame || !count) return fail("unsupported .eh_frame_hdr counts");
  const uint64_t table = r.pos();
  auto entry = [&](uint64_t i, size_t field) {
    auto bytes = view.at(table + 8 * i + 4 * field, 4);
    return bytes.size() == 4 ? std::optional<uint64_t>(hdr + read_le_i32(bytes, 0)) : std::nullopt;
  };
  // Binary search for the last initial location <= vaddr.
  uint64_t lo = 0, hi = *count;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto loc = entry(mid, 0);
    if (!loc) return fail(".eh_frame_hdr table runs past the image");
    if (*loc <= vaddr)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return std::optional<FunctionBounds>();
  auto fde = entry(lo - 1, 1);
  if (!fde) return fail(".eh_frame_hdr table runs past the image");
  auto bounds = read_fde(view, *fde);
  if (!bounds || !bounds->contains(vaddr)) return std::optional<FunctionBounds>();
  return bounds;
}

}  // namespace

Expected<std::optional<FunctionBounds>> function_bounds_from_eh_frame(
    std::span<const uint8_t> image, uint64_t vaddr) {
  auto opened = open_elf(image);
  if (!opened) return std::unexpected(std::move(opened).error());
  std::vector<Segment> loads;
  std::optional<uint64_t> eh_frame_hdr;
  read_layout(opened->elf.get(), loads, eh_frame_hdr);
  return lookup_eh_frame(VaddrView(image, loads, eh_frame_hdr), vaddr);
}

Expected<std::optional<FunctionBounds>> function_bounds(std::span<const uint8_t> image,
                                                        uint64_t vaddr) {
  auto opened = open_elf(image);
  if (!opened) return std::unexpected(std::move(opened).error());
  for (uint32_t type : {SHT_SYMTAB, SHT_DYNSYM}) {
    std::vector<FunctionBounds> functions;
    collect_functions(opened->elf.get(), type, functions);
    if (auto bounds = first_containing(functions, vaddr)) return bounds;
  }
  return function_bounds_from_eh_frame(image, vaddr);
}

Expected<std::unique_ptr<FunctionIndex>> FunctionIndex::open(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
    return fail_errno(fmt::format("cannot open {}", path));
  if (st.st_size <= 0) return fail(fmt::format("not an ELF image: {} is empty", path));
  const auto size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED) return fail_errno(fmt::format("cannot map {}", path));
  std::unique_ptr<FunctionIndex> index(new FunctionIndex);
  index->image_ = std::span(static_cast<uint8_t*>(map), size);
  auto elf = open_elf_in_place(index->image_);
  if (!elf) return std::unexpected(std::move(elf).error());
  for (uint32_t type : {SHT_SYMTAB, SHT_DYNSYM})
    collect_functions(elf->get(), type, index->symbols_);
  read_layout(elf->get(), index->loads_, index->eh_frame_hdr_);
  return index;
}

FunctionIndex::~FunctionIndex() {
  if (!image_.empty()) ::munmap(image_.data(), image_.size());
}

Expected<std::optional<FunctionBounds>> FunctionIndex::lookup(uint64_t vaddr) const {
  if (auto bounds = first_containing(symbols_, vaddr)) return bounds;
  return lookup_eh_frame(VaddrView(image_, loads_, eh_frame_hdr_), vaddr);
}

Expected<std::optional<FunctionBounds>> function_bounds_from_file(const std::string& path,
                                                                  uint64_t vaddr) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(fmt::format("cannot open {}", path));
  std::vector<uint8_t> bytes;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(fmt::format("cannot read {}", path));
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  return function_bounds(bytes, vaddr);
}

}  // namespace rrl::monkeypatch
