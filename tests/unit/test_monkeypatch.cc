// The monkeypatch layer on literal byte strings at fixed addresses: decoding
// and classification, branch-target sweeps, region choice, relocation and the
// jump encodings; then on real code: a function of this test binary (bounds
// from .symtab and from .eh_frame_hdr) and libc's getpid.
#include <dlfcn.h>
#include <link.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "monkeypatch/anchor.h"
#include "monkeypatch/branch_targets.h"
#include "monkeypatch/decode.h"
#include "monkeypatch/relocate.h"

using namespace rrl::monkeypatch;
using Bytes = std::vector<uint8_t>;

// A small function of our own, found again through the ELF file of this test.
extern "C" __attribute__((noinline)) int rrl_monkeypatch_test_function(int x) {
  return x < 0 ? -x * 3 : x * 5 + 1;
}

namespace {

std::vector<Insn> must_decode(const Bytes& code, uint64_t address, size_t max = 100) {
  auto insns = decode(code, address, max);
  REQUIRE(insns);
  return *insns;
}

Insn one(const Bytes& code, uint64_t address) {
  auto insns = must_decode(code, address, 1);
  REQUIRE(insns.size() == 1);
  REQUIRE(insns[0].size == code.size());
  return insns[0];
}

Bytes must_relocate(const Bytes& code, uint64_t from, uint64_t to) {
  auto bytes = relocate_insn(one(code, from), to);
  REQUIRE(bytes);
  return *bytes;
}

// glibc's style: mov eax, 39; syscall; cmp rax, -4095; jbe back to the cmp; ret
constexpr uint64_t kFn = 0x401000;
const Bytes kGlibcSite = {0xb8, 0x27, 0x00, 0x00, 0x00,        // 401000 mov eax, 0x27
                          0x0f, 0x05,                          // 401005 syscall
                          0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,  // 401007 cmp rax, -0xfff
                          0x73, 0x01,                          // 40100d jae 0x401010
                          0xc3,                                // 40100f ret
                          0xc3};                               // 401010 ret

}  // namespace

TEST_CASE("decode classifies syscall sites and branches", "[monkeypatch]") {
  auto insns = must_decode(kGlibcSite, kFn);
  REQUIRE(insns.size() == 6);
  CHECK(insns[0].text == "mov eax, 0x27");
  CHECK(insns[1].is_syscall);
  CHECK(insns[1].address == 0x401005);
  CHECK(insns[1].bytes == Bytes{0x0f, 0x05});
  CHECK(insns[3].rel_branch == RelBranchKind::kJcc);
  CHECK(insns[3].condition == 0x3);
  CHECK(insns[3].branch_target == 0x401010);
  CHECK(insns[3].rel_offset == 1);
  CHECK(insns[3].rel_size == 1);
  CHECK(insns[4].is_ret);
  CHECK(insns[4].is_unconditional_transfer());
  for (const Insn& insn : insns) CHECK(insn.relocatable);

  const Insn load = one({0x48, 0x8b, 0x05, 0x34, 0x12, 0x00, 0x00}, 0x400000);
  CHECK(load.rip_relative);
  CHECK(load.disp_offset == 3);
  CHECK(load.disp_size == 4);
  const Insn indirect = one({0xff, 0x25, 0x00, 0x00, 0x00, 0x00}, 0x400000);
  CHECK(indirect.is_indirect_branch);
  CHECK(indirect.rip_relative);
  const Insn call = one({0xe8, 0x00, 0x01, 0x00, 0x00}, kFn);
  CHECK(call.is_call);
  CHECK(call.rel_branch == RelBranchKind::kCall);
  CHECK(call.branch_target == 0x401105);
  CHECK(one({0xe2, 0xfe}, kFn).rel_branch == RelBranchKind::kLoop);
  CHECK(one({0xcd, 0x80}, kFn).is_int80);
  CHECK(one({0x0f, 0x34}, kFn).is_sysenter);
  CHECK_FALSE(one({0x0f, 0x34}, kFn).relocatable);
  CHECK_FALSE(one({0xcc}, kFn).relocatable);
  CHECK_FALSE(one({0x66, 0xe9, 0x10, 0x00}, kFn).relocatable);  // jmp rel16
}

TEST_CASE("decode reports memory operands by register", "[monkeypatch]") {
  // mov qword ptr [rbx + rcx*8 + 0x10], rax
  Insn a = one(Bytes{0x48, 0x89, 0x44, 0xcb, 0x10}, 0x1000);
  REQUIRE(a.memory.size() == 1);
  CHECK(a.memory[0].base == 3);
  CHECK(a.memory[0].index == 1);
  CHECK(a.memory[0].scale == 8);
  CHECK(a.memory[0].disp == 0x10);
  CHECK_FALSE(a.memory_unknown);
  // add dword ptr [rip + 0x100], 1
  Insn b = one(Bytes{0x83, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01}, 0x2000);
  REQUIRE(b.memory.size() == 1);
  CHECK(b.memory[0].base == MemOperand::kRegRip);
  CHECK(b.memory[0].disp == 0x100);
  // mov qword ptr fs:[0x28], rax
  Insn c = one(Bytes{0x64, 0x48, 0x89, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00}, 0x3000);
  REQUIRE(c.memory.size() == 1);
  CHECK(c.memory[0].segment == MemOperand::Segment::kFs);
  CHECK(c.memory[0].base == MemOperand::kRegNone);
  CHECK(c.memory[0].disp == 0x28);
  // mov dword ptr [eax], 0 (32-bit address size)
  Insn d = one(Bytes{0x67, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x00}, 0x4000);
  REQUIRE(d.memory.size() == 1);
  CHECK(d.memory[0].addr32);
  CHECK(d.memory[0].base == 0);
  // add rax, rbx: no memory
  CHECK(one(Bytes{0x48, 0x01, 0xd8}, 0x5000).memory.empty());
  // vpscatterdd [rax + zmm1*4] {k1}, zmm0: indexed by a vector
  CHECK(one(Bytes{0x62, 0xf2, 0x7d, 0x49, 0xa0, 0x04, 0x88}, 0x6000).memory_unknown);
}

TEST_CASE("decode stops at bytes that do not decode", "[monkeypatch]") {
  auto insns = must_decode({0x90, 0x0f, 0x05, 0x48}, kFn);  // a truncated instruction
  CHECK(insns.size() == 2);
  CHECK_FALSE(decode(Bytes{0x48}, kFn, 10));
  CHECK(must_decode(kGlibcSite, kFn, 2).size() == 2);
}

TEST_CASE("collect_branch_targets sweeps a function", "[monkeypatch]") {
  const Bytes fn = {0xb8, 0x27, 0x00, 0x00, 0x00,              // 401000 mov eax, 0x27
                    0x0f, 0x05,                                // 401005 syscall
                    0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,        // 401007 cmp rax, -0xfff
                    0x76, 0xf8,                                // 40100d jbe 0x401007
                    0xe8, 0xee, 0xff, 0xff, 0xff,              // 40100f call 0x401002
                    0x48, 0x8d, 0x05, 0xe5, 0xff, 0xff, 0xff,  // 401014 lea rax, [rip-0x1b]
                    0x48, 0x8d, 0x05, 0x00, 0x10, 0x00, 0x00,  // 40101b lea rax, [rip+0x1000]
                    0xc3};                                     // 401022 ret
  auto targets = collect_branch_targets(fn, kFn);
  REQUIRE(targets);
  // The lea of 0x401000 (inside) counts, the one of 0x402022 (outside) does not.
  CHECK(*targets == std::set<uint64_t>{0x401000, 0x401002, 0x401007});
  // From the decoded instructions (plan_site's way when nothing failed to
  // decode): the same set.
  auto insns = must_decode(fn, kFn);
  CHECK(collect_branch_targets(insns, kFn, kFn + fn.size()) == *targets);
}

TEST_CASE("choose_region prefers the site, else begins earlier", "[monkeypatch]") {
  auto insns = must_decode(kGlibcSite, kFn);
  auto region = choose_region(insns, 0x401005, {});
  REQUIRE(region);
  CHECK(region->start == 0x401005);
  CHECK(region->end == 0x40100d);
  CHECK(region->site_offset == 0);
  CHECK_FALSE(region->needs_deferred_patching());
  CHECK(region->insns.size() == 2);

  // A jump elsewhere targets the cmp: the region must end where the cmp begins.
  region = choose_region(insns, 0x401005, {0x401007});
  REQUIRE(region);
  CHECK(region->start == 0x401000);
  CHECK(region->end == 0x401007);
  CHECK(region->site_offset == 5);
  CHECK(region->needs_deferred_patching());

  RegionOptions at_site;
  at_site.must_start_at_site = true;
  auto refused = choose_region(insns, 0x401005, {0x401007}, at_site);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("0x401007, inside the region"));

  refused = choose_region(insns, 0x401005, {0x401005, 0x401007});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("[from 0x401000]"));
  CHECK_FALSE(choose_region(insns, 0x401006, {}));  // not an instruction boundary
}

TEST_CASE("choose_region with targets swept from the function", "[monkeypatch]") {
  const Bytes fn = {0xb8, 0x27, 0x00, 0x00, 0x00,        // 401000 mov eax, 0x27
                    0x0f, 0x05,                          // 401005 syscall
                    0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,  // 401007 cmp rax, -0xfff
                    0x76, 0xf8,                          // 40100d jbe 0x401007
                    0xc3};                               // 40100f ret
  auto targets = collect_branch_targets(fn, kFn);
  REQUIRE(targets);
  auto region = choose_region(must_decode(fn, kFn), 0x401005, *targets);
  REQUIRE(region);
  CHECK(region->start == 0x401000);
  CHECK(region->end == 0x401007);
}

TEST_CASE("choose_region refuses what cannot move", "[monkeypatch]") {
  // syscall; ret; nop; nop; nop: the ret would not be last, so begin earlier.
  const Bytes ret_mid = {0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0x90, 0x90, 0x90};
  auto region = choose_region(must_decode(ret_mid, kFn), 0x401005, {});
  REQUIRE(region);
  CHECK(region->start == 0x401000);
  CHECK(region->end == 0x401007);
  RegionOptions at_site;
  at_site.must_start_at_site = true;
  auto refused = choose_region(must_decode(ret_mid, kFn), 0x401005, {}, at_site);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("leaves the region"));

  // int3; syscall; int3 ...: nothing around the site may move.
  const Bytes traps = {0xcc, 0x0f, 0x05, 0xcc, 0xcc, 0xcc};
  refused = choose_region(must_decode(traps, kFn), 0x401001, {});
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("cannot be moved"));

  // syscall; call: calls are refused unless allowed.
  const Bytes call = {0x0f, 0x05, 0xe8, 0x00, 0x00, 0x00, 0x00};
  CHECK_FALSE(choose_region(must_decode(call, kFn), kFn, {}));
  RegionOptions calls;
  calls.allow_calls = true;
  CHECK(choose_region(must_decode(call, kFn), kFn, {}, calls));

  // Two syscalls back to back.
  const Bytes two = {0x0f, 0x05, 0x0f, 0x05, 0x90, 0x90};
  CHECK_FALSE(choose_region(must_decode(two, kFn), kFn, {}, at_site));

  // A jcc inside the region that jumps into the region itself.
  const Bytes self = {0x0f, 0x05, 0x74, 0xfe, 0x90, 0x90};  // syscall; je self
  CHECK_FALSE(choose_region(must_decode(self, kFn), kFn, {}));
}

TEST_CASE("relocate rewrites rip-relative displacements", "[monkeypatch]") {
  // mov rax, [rip+0x1234] moved 1 MiB up: disp 0x1234 - 0x100000 = -0xfedcc.
  CHECK(must_relocate({0x48, 0x8b, 0x05, 0x34, 0x12, 0x00, 0x00}, 0x400000, 0x500000) ==
        Bytes{0x48, 0x8b, 0x05, 0x34, 0x12, 0xf0, 0xff});
  // lea rdi, [rip+0x10] moved one page down.
  CHECK(must_relocate({0x48, 0x8d, 0x3d, 0x10, 0x00, 0x00, 0x00}, 0x7f0000001000, 0x7f0000000000) ==
        Bytes{0x48, 0x8d, 0x3d, 0x10, 0x10, 0x00, 0x00});
  // cmp dword [rip+0x10], 5: the immediate after the displacement stays.
  CHECK(must_relocate({0x83, 0x3d, 0x10, 0x00, 0x00, 0x00, 0x05}, 0x401000, 0x400000) ==
        Bytes{0x83, 0x3d, 0x10, 0x10, 0x00, 0x00, 0x05});
  // Too far: the new displacement does not fit in int32.
  auto far =
      relocate_insn(one({0x48, 0x8b, 0x05, 0x34, 0x12, 0x00, 0x00}, 0x400000), 0x7f0000000000);
  REQUIRE_FALSE(far);
  CHECK_THAT(far.error().message, Catch::Contains("out of reach"));
}

TEST_CASE("relocate re-encodes relative branches", "[monkeypatch]") {
  // je rel8 at 0x401000 (target 0x401012) -> je rel32 at 0x402000.
  CHECK(must_relocate({0x74, 0x10}, kFn, 0x402000) == Bytes{0x0f, 0x84, 0x0c, 0xf0, 0xff, 0xff});
  // jne rel32 keeps its condition.
  CHECK(must_relocate({0x0f, 0x85, 0x00, 0x01, 0x00, 0x00}, kFn, 0x402000) ==
        Bytes{0x0f, 0x85, 0x00, 0xf1, 0xff, 0xff});
  // call rel32 at 0x401000 (target 0x401105) -> at 0x400000.
  CHECK(must_relocate({0xe8, 0x00, 0x01, 0x00, 0x00}, kFn, 0x400000) ==
        Bytes{0xe8, 0x00, 0x11, 0x00, 0x00});
  // jmp rel8 -> jmp rel32.
  CHECK(must_relocate({0xeb, 0x05}, kFn, 0x401100) == Bytes{0xe9, 0x02, 0xff, 0xff, 0xff});
  // Out of rel32 reach: absolute jump; jcc inverts its condition over one.
  CHECK(must_relocate({0xeb, 0x05}, kFn, 0x7f0000000000) ==
        Bytes{0xff, 0x25, 0, 0, 0, 0, 0x07, 0x10, 0x40, 0, 0, 0, 0, 0});
  CHECK(must_relocate({0x74, 0x10}, kFn, 0x7f0000000000) ==
        Bytes{0x75, 0x0e, 0xff, 0x25, 0, 0, 0, 0, 0x12, 0x10, 0x40, 0, 0, 0, 0, 0});
  CHECK_FALSE(relocate_insn(one({0xe8, 0x00, 0x01, 0x00, 0x00}, kFn), 0x7f0000000000));
  // loop rel8 (target: itself) -> loop +2; jmp +5; jmp rel32 0x401000.
  CHECK(must_relocate({0xe2, 0xfe}, kFn, 0x402000) ==
        Bytes{0xe2, 0x02, 0xeb, 0x05, 0xe9, 0xf7, 0xef, 0xff, 0xff});
  // jecxz keeps its address-size prefix.
  CHECK(must_relocate({0x67, 0xe3, 0x00}, kFn, 0x402000) ==
        Bytes{0x67, 0xe3, 0x02, 0xeb, 0x05, 0xe9, 0xf9, 0xef, 0xff, 0xff});
  // Everything else is copied.
  CHECK(must_relocate({0x0f, 0x05}, kFn, 0x402000) == Bytes{0x0f, 0x05});
}

TEST_CASE("relocate a whole region keeps later instructions' addresses right", "[monkeypatch]") {
  // je +0x10; mov rax, [rip+0x100] at 0x401000, moved to 0x402000: the je
  // grows to 6 bytes, so the mov lands at 0x402006.
  const Bytes code = {0x74, 0x10, 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00};
  auto bytes = relocate(must_decode(code, kFn), 0x402000);
  REQUIRE(bytes);
  // mov: old end 0x401009 + 0x100 = 0x401109; new end 0x40200d -> disp -0xf04.
  CHECK(*bytes ==
        Bytes{0x0f, 0x84, 0x0c, 0xf0, 0xff, 0xff, 0x48, 0x8b, 0x05, 0xfc, 0xf0, 0xff, 0xff});
}

TEST_CASE("jump encoders and the trampoline patch", "[monkeypatch]") {
  CHECK(fits_rel32(0x1000, 0x1000 + 0x7fffffffULL));
  CHECK_FALSE(fits_rel32(0x1000, 0x1000 + 0x80000000ULL));
  CHECK(fits_rel32(0x80001000ULL, 0x1000));
  CHECK_FALSE(fits_rel32(0x80001001ULL, 0x1000));
  CHECK(*encode_jmp_rel32(0x401000, 0x401000) == Bytes{0xe9, 0xfb, 0xff, 0xff, 0xff});
  CHECK(*encode_call_rel32(0x401000, 0x402000) == Bytes{0xe8, 0xfb, 0x0f, 0x00, 0x00});
  CHECK_FALSE(encode_jmp_rel32(0x401000, 0x7f0000000000));
  CHECK(encode_jmp_abs(0x7f0011223344) ==
        Bytes{0xff, 0x25, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0x00, 0x7f, 0, 0});

  auto region = choose_region(must_decode(kGlibcSite, kFn), 0x401005, {});
  REQUIRE(region);
  auto patch = build_trampoline_patch(*region, 0x70000000);
  REQUIRE(patch);
  // 0x70000000 - 0x40100a = 0x6fbfeff6, then int3 over the rest of the cmp.
  CHECK(*patch == Bytes{0xe9, 0xf6, 0xef, 0xbf, 0x6f, 0xcc, 0xcc, 0xcc});
  CHECK_FALSE(build_trampoline_patch(*region, 0x7f0000000000));
}

namespace {

// Load bias of the object containing addr, and its file name.
struct Loaded {
  uint64_t bias = 0;
  std::string path;
};

Loaded loaded_object(const void* addr) {
  Dl_info info{};
  struct link_map* map = nullptr;
  REQUIRE(dladdr1(addr, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) != 0);
  REQUIRE(map != nullptr);
  std::string path = map->l_name[0] ? map->l_name : "/proc/self/exe";
  return Loaded{map->l_addr, path};
}

Bytes read_whole_file(const std::string& path) {
  Bytes image;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  REQUIRE(file);
  uint8_t buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, file)) > 0;)
    image.insert(image.end(), buf, buf + n);
  std::fclose(file);
  return image;
}

std::span<const uint8_t> code_at(uint64_t addr, uint64_t size) {
  return {reinterpret_cast<const uint8_t*>(addr), size};
}

}  // namespace

TEST_CASE("function_bounds finds a function of this binary", "[monkeypatch]") {
  const auto addr = reinterpret_cast<uint64_t>(&rrl_monkeypatch_test_function);
  const Loaded self = loaded_object(reinterpret_cast<const void*>(&rrl_monkeypatch_test_function));
  const uint64_t vaddr = addr - self.bias;
  auto from_symbols = function_bounds_from_file(self.path, vaddr + 1);
  REQUIRE(from_symbols);
  REQUIRE(from_symbols->has_value());
  CHECK((*from_symbols)->start == vaddr);

  // The same range from the unwind tables alone.
  const Bytes image = read_whole_file(self.path);
  auto from_eh = function_bounds_from_eh_frame(image, vaddr + 1);
  REQUIRE(from_eh);
  REQUIRE(from_eh->has_value());
  CHECK((*from_eh)->start == (*from_symbols)->start);
  CHECK((*from_eh)->end == (*from_symbols)->end);
  CHECK_FALSE(function_bounds_from_eh_frame(image, 0x10)->has_value());

  // Decoded from memory, the function ends with a ret and every instruction moves.
  const FunctionBounds bounds = **from_symbols;
  auto insns = must_decode(Bytes(code_at(addr, bounds.end - bounds.start).begin(),
                                 code_at(addr, bounds.end - bounds.start).end()),
                           addr);
  REQUIRE_FALSE(insns.empty());
  CHECK(insns.back().end() - addr <= bounds.end - bounds.start);
  bool has_ret = false;
  for (const Insn& insn : insns) has_ret |= insn.is_ret;
  CHECK(has_ret);
  CHECK(function_bounds(Bytes{1, 2, 3}, 0).error().message.find("not an ELF") != std::string::npos);
}

TEST_CASE("libc's getpid has a patchable syscall site", "[monkeypatch]") {
  void* getpid_addr = dlsym(RTLD_DEFAULT, "getpid");
  REQUIRE(getpid_addr);
  const auto addr = reinterpret_cast<uint64_t>(getpid_addr);
  const Loaded libc = loaded_object(getpid_addr);
  auto bounds = function_bounds_from_file(libc.path, addr - libc.bias);
  REQUIRE(bounds);
  REQUIRE(bounds->has_value());
  const uint64_t start = (*bounds)->start + libc.bias;
  const auto span = code_at(start, (*bounds)->end - (*bounds)->start);
  const Bytes body(span.begin(), span.end());
  auto insns = must_decode(body, start);
  auto targets = collect_branch_targets(body, start);
  REQUIRE(targets);
  const Insn* site = nullptr;
  for (const Insn& insn : insns)
    if (insn.is_syscall) site = &insn;
  REQUIRE(site);
  auto region = choose_region(insns, site->address, *targets);
  REQUIRE(region);
  CHECK(region->start <= site->address);
  CHECK(region->end >= site->end());
  CHECK(region->size() >= kJmpRel32Size);
  CHECK(relocate(region->insns, start + 0x10000000));

  // libc is stripped of .symtab; its unwind table agrees with .dynsym.
  auto from_eh = function_bounds_from_eh_frame(read_whole_file(libc.path), addr - libc.bias);
  REQUIRE(from_eh);
  REQUIRE(from_eh->has_value());
  CHECK((*from_eh)->start == (*bounds)->start);
  CHECK((*from_eh)->end == (*bounds)->end);
}

TEST_CASE("repeated string instructions are recognised", "[monkeypatch]") {
  using rrl::monkeypatch::rep_string_length;
  auto len = [](std::initializer_list<uint8_t> b) {
    std::vector<uint8_t> v(b);
    return rep_string_length(v);
  };
  CHECK(len({0xf3, 0xa4}) == 2);              // rep movsb
  CHECK(len({0xf3, 0x48, 0xa5}) == 3);        // rep movsq
  CHECK(len({0xf3, 0xaa}) == 2);              // rep stosb
  CHECK(len({0xf2, 0xae}) == 2);              // repne scasb
  CHECK(len({0x66, 0xf3, 0xab}) == 3);        // rep stosw
  CHECK(len({0xf3, 0x0f, 0xb8, 0xc0}) == 0);  // popcnt: f3 is part of the opcode
  CHECK(len({0xa4}) == 0);                    // movsb without rep: one step
  CHECK(len({0xf3, 0xc3}) == 0);              // rep ret
  CHECK(len({0xf3, 0x90}) == 0);              // pause
  CHECK(len({0xf3}) == 0);                    // cut short
  CHECK(len({}) == 0);
}
