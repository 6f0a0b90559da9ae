// Site planning (monkeypatch/site.h) on literal byte strings: the constant
// syscall number, the stub's layout, refusals; and the deferred-patching
// verdict on task positions, including the regression scenarios of issue 5.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "monkeypatch/decode.h"
#include "monkeypatch/site.h"

using namespace rrl::monkeypatch;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint64_t kFn = 0x7ffff7e00000;
constexpr uint64_t kStub = 0x7fffb0010000;
constexpr uint64_t kEntry = 0x7fffb0000000;
const std::set<int64_t> kWanted = {0, 1, 39, 228};

// glibc 2.36 read: cmp byte [rip+..], 0; je slow; xor eax, eax; syscall;
// cmp rax, -4096; ja err; ret; slow: ...; err: ...
const Bytes kRead = {0x80, 0x3d, 0x31, 0x33, 0x0e, 0x00, 0x00,  // +0  cmp byte [rip+0xe3331], 0
                     0x74, 0x0a,                                // +7  je +0x13
                     0x31, 0xc0,                                // +9  xor eax, eax
                     0x0f, 0x05,                                // +b  syscall
                     0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff,        // +d  cmp rax, -0x1000
                     0x77, 0x02,                                // +13 ja +0x17
                     0xc3,                                      // +15 ret
                     0x90,                                      // +16 nop
                     0x90,                                      // +17 nop
                     0xc3};                                     // +18 ret

// The rewritten vdso: mov eax, 228; syscall; ret.
const Bytes kVdsoClock = {0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};

Insn decode_one(const Bytes& code, uint64_t addr) {
  auto insns = decode(code, addr, 1);
  REQUIRE(insns);
  REQUIRE(insns->size() == 1);
  return (*insns)[0];
}

PatchRegion region_of(uint64_t start, uint64_t end, uint64_t site) {
  PatchRegion r;
  r.start = start;
  r.end = end;
  r.site_offset = site - start;
  return r;
}

}  // namespace

TEST_CASE("plan_site patches glibc's read at the site", "[monkeypatch][site]") {
  auto plan = plan_site(kRead, kFn, kFn + 0xb, {kStub, kEntry}, kWanted);
  REQUIRE(plan);
  CHECK(plan->syscallno == 0);
  CHECK(plan->region.start == kFn + 0xb);
  CHECK(plan->region.end == kFn + 0x13);  // syscall, cmp: the first 5 bytes or more
  CHECK_FALSE(plan->region.needs_deferred_patching());
  REQUIRE(plan->jump.size() == 8);
  CHECK(plan->jump[0] == 0xe9);
  for (size_t i = 5; i < plan->jump.size(); ++i) CHECK(plan->jump[i] == 0xcc);
  // The stub: lea rsp,[rsp-128]; call entry; lea rsp,[rsp+128]; jrcxz +2;
  // syscall; cmp; jmp back.
  auto insns = decode(plan->stub, kStub, 10);
  REQUIRE(insns);
  REQUIRE(insns->size() == 7);
  CHECK((*insns)[0].text == "lea rsp, [rsp - 0x80]");
  CHECK((*insns)[1].is_call);
  CHECK((*insns)[1].branch_target == kEntry);
  CHECK((*insns)[2].text == "lea rsp, [rsp + 0x80]");
  CHECK((*insns)[3].rel_branch == RelBranchKind::kLoop);  // jrcxz over the syscall
  CHECK((*insns)[3].branch_target == (*insns)[5].address);
  CHECK((*insns)[4].is_syscall);
  CHECK((*insns)[5].text == "cmp rax, -0x1000");
  CHECK((*insns)[6].branch_target == kFn + 0x13);  // back to the region's end
  CHECK(plan->stub_syscall_offset == 0);           // nothing displaced before the site
}

TEST_CASE("plan_site defers a vdso site whose region begins before it", "[monkeypatch][site]") {
  auto plan = plan_site(kVdsoClock, kFn, kFn + 5, {kStub, kEntry}, kWanted);
  REQUIRE(plan);
  CHECK(plan->syscallno == 228);
  CHECK(plan->region.start == kFn);
  CHECK(plan->region.end == kFn + 7);
  CHECK(plan->region.needs_deferred_patching());
  auto insns = decode(plan->stub, kStub, 10);
  REQUIRE(insns);
  CHECK((*insns)[0].text == "mov eax, 0xe4");  // the displaced mov runs in the stub
  // A task stopped at the site's syscall has run that mov: it restarts
  // right after it, at the red-zone step.
  CHECK(plan->stub_syscall_offset == (*insns)[1].address - kStub);
  CHECK((*insns)[1].text == "lea rsp, [rsp - 0x80]");
}

TEST_CASE("plan_site patches a site whose number is chosen at run time", "[monkeypatch][site]") {
  // glibc 2.36 syscall(): mov rax, rdi; mov rdi, rsi; mov rsi, rdx;
  // mov rdx, rcx; mov r10, r8; mov r8, r9; mov r9, [rsp+8]; syscall;
  // cmp rax, -4095; jae err; ret; err: ...
  const Bytes code = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0x48, 0x89, 0xca,
                      0x4d, 0x89, 0xc2, 0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f,
                      0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3, 0x90, 0xc3};
  // Any number: not refused even when no number is wanted.
  auto plan = plan_site(code, kFn, kFn + 0x17, {kStub, kEntry}, {});
  REQUIRE(plan);
  CHECK(plan->syscallno == kSyscallNumberAtRunTime);
  CHECK(plan->region.start == kFn + 0x17);
  CHECK(plan->region.end == kFn + 0x1f);
  CHECK_FALSE(plan->region.needs_deferred_patching());
  auto insns = decode(plan->stub, kStub, 10);
  REQUIRE(insns);
  REQUIRE(insns->size() == 7);
  CHECK((*insns)[4].is_syscall);
  CHECK((*insns)[5].text == "cmp rax, -0xfff");
  CHECK((*insns)[6].branch_target == kFn + 0x1f);
}

TEST_CASE("plan_site refusals", "[monkeypatch][site]") {
  SECTION("a syscall it does not buffer") {
    CHECK_FALSE(plan_site(kVdsoClock, kFn, kFn + 5, {kStub, kEntry}, {0, 1}));
  }
  SECTION("a branch to the instruction after the syscall (inside any region)") {
    const Bytes code = {0xeb, 0x04, 0x31, 0xc0, 0x0f, 0x05, 0x48,
                        0x3d, 0x00, 0xf0, 0xff, 0xff, 0xc3};
    CHECK_FALSE(plan_site(code, kFn, kFn + 4, {kStub, kEntry}, kWanted));
  }
  SECTION("a stub out of jump range") {
    CHECK_FALSE(plan_site(kRead, kFn, kFn + 0xb, {0x10000, kEntry}, kWanted));
  }
}

TEST_CASE("constant_syscall_number forms", "[monkeypatch][site]") {
  const Bytes mov_rax = {0x48, 0xc7, 0xc0, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05};
  auto insns = decode(mov_rax, kFn, 10);
  REQUIRE(insns);
  CHECK(constant_syscall_number(*insns, kFn + 7, {}) == 39);
  auto xor_insns = decode(Bytes{0x31, 0xc0, 0x0f, 0x05}, kFn, 10);
  REQUIRE(xor_insns);
  CHECK(constant_syscall_number(*xor_insns, kFn + 2, {}) == 0);
  CHECK_FALSE(constant_syscall_number(*xor_insns, kFn + 2, {kFn + 2}));
  CHECK(decode_one(Bytes{0x0f, 0x05}, kFn).is_syscall);
}

TEST_CASE("constant_syscall_number looks back past argument moves", "[monkeypatch][site]") {
  // glibc's __open64_nocancel: mov eax, 0x101; mov rsi, rdi; mov edi, -100; syscall
  const Bytes open = {0xb8, 0x01, 0x01, 0x00, 0x00, 0x48, 0x89, 0xfe,
                      0xbf, 0x9c, 0xff, 0xff, 0xff, 0x0f, 0x05};
  auto insns = decode(open, kFn, 10);
  REQUIRE(insns);
  CHECK(constant_syscall_number(*insns, kFn + 13, {}) == 257);
  // A branch into the run after the write: eax may come from elsewhere.
  CHECK_FALSE(constant_syscall_number(*insns, kFn + 13, {kFn + 5}));
  // A branch to the write itself is fine: eax is set there.
  CHECK(constant_syscall_number(*insns, kFn + 13, {kFn}) == 257);
  SECTION("an instruction in between that writes eax") {
    const Bytes code = {0xb8, 0x01, 0x01, 0x00, 0x00, 0x89, 0xd0, 0x0f, 0x05};  // mov eax, edx
    auto i2 = decode(code, kFn, 10);
    REQUIRE(i2);
    CHECK_FALSE(constant_syscall_number(*i2, kFn + 7, {}));
  }
  SECTION("an implicit write of rax in between (rdtsc)") {
    const Bytes code = {0xb8, 0x01, 0x01, 0x00, 0x00, 0x0f, 0x31, 0x0f, 0x05};
    auto i2 = decode(code, kFn, 10);
    REQUIRE(i2);
    CHECK_FALSE(constant_syscall_number(*i2, kFn + 7, {}));
  }
  SECTION("a call in between") {
    const Bytes code = {0xb8, 0x01, 0x01, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x05};
    auto i2 = decode(code, kFn, 10);
    REQUIRE(i2);
    CHECK_FALSE(constant_syscall_number(*i2, kFn + 10, {}));
  }
}

TEST_CASE("deferred_verdict", "[monkeypatch][site][deferred]") {
  // A vdso-like region [mov; syscall] at 0x1000..0x1007, syscall at 0x1005.
  const PatchRegion r = region_of(0x1000, 0x1007, 0x1005);
  SECTION("the asking task at the exit of the region's syscall, alone") {
    CHECK(deferred_verdict(r, 0x1007, {}) == PatchVerdict::kApply);
  }
  SECTION("a task stopped between the region's start and its syscall") {
    TaskSpot spot{0x1005, false};
    CHECK(deferred_verdict(r, 0x1007, std::span(&spot, 1)) == PatchVerdict::kWait);
  }
  SECTION("regression (b): a second thread blocked in the region's syscall") {
    // Its saved ip is the region's end; it could restart at the syscall.
    TaskSpot blocked{0x1007, true};
    CHECK(deferred_verdict(r, 0x5000, std::span(&blocked, 1)) == PatchVerdict::kWait);
    // Once it has left (its ip elsewhere), the retry applies.
    TaskSpot left{0x9000, false};
    CHECK(deferred_verdict(r, 0x5000, std::span(&left, 1)) == PatchVerdict::kApply);
  }
  SECTION("regression (a): a handler's syscall elsewhere does not move the request") {
    // The futex-like site's task was interrupted (in_syscall, restart pending)
    // and now runs a handler whose buffered read exits at 0x8000. The verdict
    // is about r alone, and r still has a task inside.
    TaskSpot interrupted{0x1007, true};
    CHECK(deferred_verdict(r, 0x8000, std::span(&interrupted, 1)) == PatchVerdict::kWait);
  }
  SECTION("the asking task inside the region (a region past its syscall)") {
    CHECK(deferred_verdict(r, 0x1003, {}) == PatchVerdict::kWait);
  }
  SECTION("a task stopped at the exit of the region's syscall, not restarting") {
    // It goes on at the region's end, which the patch leaves alone...
    TaskSpot done{0x1007, false, true};
    CHECK(deferred_verdict(r, std::nullopt, std::span(&done, 1)) == PatchVerdict::kApply);
    // ...unlike one at the exit of a syscall inside a longer region.
    TaskSpot mid{0x1005, false, true};
    CHECK(deferred_verdict(r, std::nullopt, std::span(&mid, 1)) == PatchVerdict::kWait);
    // Without the flag, the end counts as inside (it might restart).
    TaskSpot unknown{0x1007, false};
    CHECK(deferred_verdict(r, std::nullopt, std::span(&unknown, 1)) == PatchVerdict::kWait);
  }
  SECTION("tasks just outside") {
    TaskSpot spots[] = {{0x0fff, false}, {0x1008, false}, {0x100a, true}};
    CHECK(deferred_verdict(r, 0x2000, spots) == PatchVerdict::kApply);
  }
}
