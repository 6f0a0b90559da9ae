// The vdso layer: symbol parsing and syscall stubs, first on this process's
// own vdso, then on hand-built images (i386, link bases, damage). The end to
// end tests patch the vdso of a forked child through /proc/self/mem and show
// with a seccomp RET_ERRNO filter that the time functions now enter the kernel.
#include <elf.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <string>

#include "vdso/vdso.h"

using namespace rrl::vdso;

namespace {

struct OwnVdso {
  uint64_t base = 0;
  std::vector<uint8_t> bytes;
};

// The whole [vdso] mapping of this process; its size comes from /proc/self/maps.
OwnVdso read_own_vdso() {
  OwnVdso out;
  out.base = getauxval(AT_SYSINFO_EHDR);
  REQUIRE(out.base != 0);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  uint64_t start = 0, end = 0;
  while (std::getline(maps, line)) {
    if (line.find("[vdso]") == std::string::npos) continue;
    REQUIRE(std::sscanf(line.c_str(), "%lx-%lx", &start, &end) == 2);
  }
  REQUIRE(start == out.base);
  REQUIRE(end > start);
  const auto* p = reinterpret_cast<const uint8_t*>(out.base);
  out.bytes.assign(p, p + (end - start));
  return out;
}

std::vector<uint8_t> syscall64_stub(uint32_t nr) {
  return {0xb8, uint8_t(nr), uint8_t(nr >> 8), uint8_t(nr >> 16), uint8_t(nr >> 24), 0x0f,
          0x05, 0xc3};
}

const std::vector<uint8_t> kEnosysStub = {0x48, 0xc7, 0xc0, 0xda, 0xff, 0xff, 0xff, 0xc3};

const Symbol* find_symbol(const std::vector<Symbol>& symbols, std::string_view name) {
  auto it = std::ranges::find(symbols, name, &Symbol::name);
  return it == symbols.end() ? nullptr : &*it;
}

const Patch* find_patch(const std::vector<Patch>& patches, uint64_t addr) {
  auto it = std::ranges::find(patches, addr, &Patch::addr);
  return it == patches.end() ? nullptr : &*it;
}

// Executable copy of stub bytes, unmapped on destruction.
class StubPage {
 public:
  explicit StubPage(const std::vector<uint8_t>& bytes) {
    mem_ = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem_ != MAP_FAILED);
    std::memcpy(mem_, bytes.data(), bytes.size());
    REQUIRE(mprotect(mem_, 4096, PROT_READ | PROT_EXEC) == 0);
  }
  ~StubPage() { munmap(mem_, 4096); }
  StubPage(const StubPage&) = delete;
  StubPage& operator=(const StubPage&) = delete;
  template <typename Fn>
  Fn as() const {
    return reinterpret_cast<Fn>(mem_);
  }

 private:
  void* mem_ = nullptr;
};

}  // namespace

TEST_CASE("parse_symbols finds the time functions of our own vdso", "[vdso]") {
  const OwnVdso vdso = read_own_vdso();
  auto symbols = parse_symbols(vdso.bytes);
  REQUIRE(symbols.has_value());
  for (const char* name : {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres",
                           "__vdso_clock_gettime", "__vdso_time"}) {
    INFO(name);
    const Symbol* sym = find_symbol(*symbols, name);
    REQUIRE(sym != nullptr);
    CHECK(sym->offset != 0);
    CHECK(sym->size != 0);
    CHECK(sym->offset + sym->size <= vdso.bytes.size());
  }
  // Aliases resolve to one address; non-functions (the LINUX_2.6 version
  // symbol) are not listed.
  CHECK(find_symbol(*symbols, "clock_gettime")->offset ==
        find_symbol(*symbols, "__vdso_clock_gettime")->offset);
  CHECK(find_symbol(*symbols, "LINUX_2.6") == nullptr);
}

TEST_CASE("syscall_patches on our own vdso", "[vdso]") {
  const OwnVdso vdso = read_own_vdso();
  auto symbols = parse_symbols(vdso.bytes);
  REQUIRE(symbols.has_value());
  auto patches = syscall_patches(vdso.bytes, vdso.base);
  REQUIRE(patches.has_value());

  std::set<uint64_t> addrs;
  for (const Patch& p : *patches) {
    INFO(p.symbol);
    CHECK(addrs.insert(p.addr).second);  // each address once
    CHECK(p.addr >= vdso.base);
    CHECK(p.addr + p.bytes.size() <= vdso.base + vdso.bytes.size());
    CHECK(p.symbol.find("sgx") == std::string::npos);
  }
  struct Expect {
    const char* name;
    long nr;
  };
  for (auto [name, nr] : {Expect{"clock_gettime", SYS_clock_gettime},
                          Expect{"gettimeofday", SYS_gettimeofday}, Expect{"time", SYS_time},
                          Expect{"getcpu", SYS_getcpu}, Expect{"clock_getres", SYS_clock_getres}}) {
    INFO(name);
    const Patch* p = find_patch(*patches, vdso.base + find_symbol(*symbols, name)->offset);
    REQUIRE(p != nullptr);
    CHECK(p->bytes == syscall64_stub(static_cast<uint32_t>(nr)));
  }
  CHECK(find_patch(*patches, vdso.base + find_symbol(*symbols, "clock_gettime")->offset)->bytes ==
        std::vector<uint8_t>{0xb8, SYS_clock_gettime, 0, 0, 0, 0x0f, 0x05, 0xc3});
  if (const Symbol* rnd = find_symbol(*symbols, "__vdso_getrandom")) {
    const Patch* p = find_patch(*patches, vdso.base + rnd->offset);
    REQUIRE(p != nullptr);
    CHECK(p->bytes == kEnosysStub);
  }
  // Exactly the distinct addresses of known functions: 5 time functions,
  // plus getrandom on kernels that export it.
  CHECK(patches->size() == (find_symbol(*symbols, "getrandom") ? 6u : 5u));
}

TEST_CASE("syscall stubs execute as real syscalls", "[vdso]") {
  using ClockGettime = long (*)(clockid_t, timespec*);
  StubPage page(syscall64_stub(SYS_clock_gettime));
  timespec before{}, via_stub{}, after{};
  REQUIRE(clock_gettime(CLOCK_REALTIME, &before) == 0);
  REQUIRE(page.as<ClockGettime>()(CLOCK_REALTIME, &via_stub) == 0);
  REQUIRE(clock_gettime(CLOCK_REALTIME, &after) == 0);
  CHECK(via_stub.tv_sec >= before.tv_sec);
  CHECK(via_stub.tv_sec <= after.tv_sec);
  CHECK(via_stub.tv_nsec < 1000000000L);
  // Raw syscall convention: errors come back as -errno, which is what the vdso
  // itself returns and what libc expects from it.
  CHECK(page.as<ClockGettime>()(clockid_t{-12345}, &via_stub) == -EINVAL);

  using GetRandom = long (*)(void*, size_t, unsigned, void*, size_t);
  StubPage enosys(kEnosysStub);
  unsigned char params[64];
  CHECK(enosys.as<GetRandom>()(nullptr, 0, 0, params, ~size_t{0}) == -ENOSYS);
}

// ---------------------------------------------------------------------------
// End to end in a forked child: patch the real vdso, then prove with seccomp.

namespace {

// Child-side failure codes, reported through the exit status.
enum ChildStep : int {
  kOk = 0,
  kOpenMem = 10,
  kWriteMem,
  kClockBeforeFilter,
  kClockNotIncreasing,
  kTimeBeforeFilter,
  kGetcpuBeforeFilter,
  kInstallFilter,
  kClockAfterFilter,
  kTimeAfterFilter,
  kGetresAfterFilter,
  kGetcpuAfterFilter,
};

// seccomp filter: clock_gettime, clock_getres, time and getcpu fail with EPERM.
bool install_time_filter() {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 4, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_getres, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_time, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getcpu, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// /proc/self/mem writes go through FOLL_FORCE, like a debugger's poke, so the
// read-only vdso is written (copy-on-write) without ptrace.
int write_patches(const std::vector<Patch>& patches) {
  const int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (fd < 0) return kOpenMem;
  for (const Patch& p : patches) {
    const auto n = pwrite(fd, p.bytes.data(), p.bytes.size(), static_cast<off_t>(p.addr));
    if (n != static_cast<ssize_t>(p.bytes.size())) return kWriteMem;
  }
  close(fd);
  return kOk;
}

using VdsoGetcpu = long (*)(unsigned*, unsigned*, void*);

// Sane results first, then the filter: patched functions must now fail with
// EPERM, which only a real syscall can produce. Coarse clocks and time() are
// used because the vdso serves them without ever falling back to a syscall.
int child_run(const std::vector<Patch>* patches, VdsoGetcpu vdso_getcpu) {
  if (patches) {
    if (int rc = write_patches(*patches); rc != kOk) return rc;
  }
  timespec a{}, b{};
  if (clock_gettime(CLOCK_MONOTONIC, &a) != 0) return kClockBeforeFilter;
  if (clock_gettime(CLOCK_MONOTONIC, &b) != 0) return kClockBeforeFilter;
  if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec))
    return kClockNotIncreasing;
  if (time(nullptr) < 1600000000) return kTimeBeforeFilter;
  unsigned cpu = ~0u;
  if (vdso_getcpu(&cpu, nullptr, nullptr) != 0 || cpu >= CPU_SETSIZE) return kGetcpuBeforeFilter;

  if (!install_time_filter()) return kInstallFilter;
  const bool expect_fail = patches != nullptr;
  errno = 0;
  const bool clock_failed = clock_gettime(CLOCK_MONOTONIC_COARSE, &a) != 0 && errno == EPERM;
  if (clock_failed != expect_fail) return kClockAfterFilter;
  // time() is the vdso function itself (IFUNC), so the raw -EPERM comes back.
  if ((time(nullptr) == -EPERM) != expect_fail) return kTimeAfterFilter;
  errno = 0;
  const bool getres_failed = clock_getres(CLOCK_MONOTONIC_COARSE, &a) != 0 && errno == EPERM;
  if (getres_failed != expect_fail) return kGetresAfterFilter;
  if ((vdso_getcpu(&cpu, nullptr, nullptr) == -EPERM) != expect_fail) return kGetcpuAfterFilter;
  return kOk;
}

int run_in_child(const std::vector<Patch>* patches, VdsoGetcpu vdso_getcpu) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(child_run(patches, vdso_getcpu));
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("patched vdso makes real syscalls (seccomp proves it)", "[vdso]") {
  const OwnVdso vdso = read_own_vdso();
  auto symbols = parse_symbols(vdso.bytes);
  REQUIRE(symbols.has_value());
  auto patches = syscall_patches(vdso.bytes, vdso.base);
  REQUIRE(patches.has_value());
  const auto getcpu =
      reinterpret_cast<VdsoGetcpu>(vdso.base + find_symbol(*symbols, "__vdso_getcpu")->offset);

  // Control: unpatched, the filter does not touch vdso time at all.
  CHECK(run_in_child(nullptr, getcpu) == kOk);
  // Patched: the same calls now reach the kernel and hit the filter.
  CHECK(run_in_child(&*patches, getcpu) == kOk);
  // The parent's vdso is untouched (the child's write was copy-on-write).
  const Symbol* cg = find_symbol(*symbols, "clock_gettime");
  CHECK(std::memcmp(reinterpret_cast<const void*>(vdso.base + cg->offset),
                    vdso.bytes.data() + cg->offset, 8) == 0);
}

// ---------------------------------------------------------------------------
// Hand-built images: i386, non-zero link bases, refusals, damage.

namespace {

struct FakeSym {
  std::string name;
  uint64_t value;
  uint64_t size;
  unsigned char info;
  uint16_t shndx = 1;
};

// Minimal shared object: ELF header, one PT_LOAD at link_base, sections
// [null, .dynsym, .dynstr]. Symbol values are absolute link-time addresses.
template <typename Ehdr, typename Phdr, typename Shdr, typename Sym>
std::vector<uint8_t> build_image(unsigned char elf_class, uint16_t machine, uint64_t link_base,
                                 const std::vector<FakeSym>& syms) {
  constexpr size_t kStrOff = 0x100, kSymOff = 0x400, kShOff = 0x800, kSize = 0x2000;
  std::vector<uint8_t> img(kSize, 0);
  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = elf_class;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_DYN;
  eh.e_machine = machine;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Ehdr);
  eh.e_shoff = kShOff;
  eh.e_ehsize = sizeof(Ehdr);
  eh.e_phentsize = sizeof(Phdr);
  eh.e_phnum = 1;
  eh.e_shentsize = sizeof(Shdr);
  eh.e_shnum = 3;
  std::memcpy(img.data(), &eh, sizeof eh);
  Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_vaddr = ph.p_paddr = static_cast<decltype(ph.p_vaddr)>(link_base);
  ph.p_filesz = ph.p_memsz = kSize;
  ph.p_flags = PF_R | PF_X;
  std::memcpy(img.data() + sizeof(Ehdr), &ph, sizeof ph);

  std::string strtab(1, '\0');
  std::vector<Sym> table(1);  // index 0 is the null symbol
  for (const FakeSym& f : syms) {
    Sym s{};
    s.st_name = static_cast<uint32_t>(strtab.size());
    s.st_value = static_cast<decltype(s.st_value)>(f.value);
    s.st_size = static_cast<decltype(s.st_size)>(f.size);
    s.st_info = f.info;
    s.st_shndx = f.shndx;
    table.push_back(s);
    strtab += f.name + '\0';
  }
  std::memcpy(img.data() + kStrOff, strtab.data(), strtab.size());
  std::memcpy(img.data() + kSymOff, table.data(), table.size() * sizeof(Sym));
  Shdr sh[3]{};
  sh[1].sh_type = SHT_DYNSYM;
  sh[1].sh_offset = kSymOff;
  sh[1].sh_size = table.size() * sizeof(Sym);
  sh[1].sh_entsize = sizeof(Sym);
  sh[1].sh_link = 2;
  sh[1].sh_info = 1;
  sh[1].sh_addralign = 4;
  sh[2].sh_type = SHT_STRTAB;
  sh[2].sh_offset = kStrOff;
  sh[2].sh_size = strtab.size();
  sh[2].sh_addralign = 1;
  std::memcpy(img.data() + kShOff, sh, sizeof sh);
  return img;
}

std::vector<uint8_t> image32(uint64_t link_base, const std::vector<FakeSym>& syms) {
  return build_image<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Sym>(ELFCLASS32, EM_386, link_base,
                                                                    syms);
}

std::vector<uint8_t> image64(uint64_t link_base, const std::vector<FakeSym>& syms,
                             uint16_t machine = EM_X86_64) {
  return build_image<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Sym>(ELFCLASS64, machine, link_base,
                                                                    syms);
}

constexpr unsigned char kGlobalFunc = ELF32_ST_INFO(STB_GLOBAL, STT_FUNC);
constexpr unsigned char kWeakFunc = ELF32_ST_INFO(STB_WEAK, STT_FUNC);
constexpr unsigned char kLocalFunc = ELF32_ST_INFO(STB_LOCAL, STT_FUNC);
constexpr unsigned char kGlobalObject = ELF32_ST_INFO(STB_GLOBAL, STT_OBJECT);

}  // namespace

TEST_CASE("i386 vdso: int $0x80 stubs with stack arguments, link base handled", "[vdso]") {
  const uint64_t link = 0xffffe000;  // where old i386 kernels linked the vdso
  const auto img = image32(link, {
                                     {"__vdso_clock_gettime", link + 0x1000, 64, kGlobalFunc},
                                     {"__vdso_time", link + 0x1040, 32, kGlobalFunc},
                                     {"__vdso_getcpu", link + 0x1080, 32, kGlobalFunc},
                                     {"__kernel_vsyscall", link + 0x1100, 32, kGlobalFunc},
                                     {"__kernel_sigreturn", link + 0x1120, 16, kGlobalFunc},
                                     {"__kernel_rt_sigreturn", link + 0x1130, 16, kGlobalFunc},
                                     {"LINUX_2.6", 0, 0, kGlobalObject, SHN_ABS},
                                     {"helper", link + 0x1140, 32, kLocalFunc},
                                     {"imported", 0, 0, kGlobalFunc, SHN_UNDEF},
                                 });
  auto symbols = parse_symbols(img);
  REQUIRE(symbols.has_value());
  REQUIRE(symbols->size() == 6);  // object, local and undefined ones dropped
  CHECK(find_symbol(*symbols, "__vdso_clock_gettime")->offset == 0x1000);
  CHECK(find_symbol(*symbols, "__kernel_vsyscall")->offset == 0x1100);

  const uint64_t base = 0xf7fc0000;
  auto patches = syscall_patches(img, base);
  REQUIRE(patches.has_value());
  REQUIRE(patches->size() == 3);  // __kernel_* left alone
  // push ebx; mov ebx,[esp+8]; mov ecx,[esp+12]; mov eax,265; int 0x80; pop ebx; ret
  CHECK(find_patch(*patches, base + 0x1000)->bytes ==
        std::vector<uint8_t>{0x53, 0x8b, 0x5c, 0x24, 0x08, 0x8b, 0x4c, 0x24, 0x0c, 0xb8, 0x09, 0x01,
                             0x00, 0x00, 0xcd, 0x80, 0x5b, 0xc3});
  // time takes one argument: only ebx is loaded.
  CHECK(find_patch(*patches, base + 0x1040)->bytes == std::vector<uint8_t>{0x53, 0x8b, 0x5c, 0x24,
                                                                           0x08, 0xb8, 13, 0, 0, 0,
                                                                           0xcd, 0x80, 0x5b, 0xc3});
  // getcpu takes three: edx from [esp+16]; i386 getcpu is 318.
  CHECK(find_patch(*patches, base + 0x1080)->bytes ==
        std::vector<uint8_t>{0x53, 0x8b, 0x5c, 0x24, 0x08, 0x8b, 0x4c, 0x24, 0x0c, 0x8b, 0x54,
                             0x24, 0x10, 0xb8, 0x3e, 0x01, 0x00, 0x00, 0xcd, 0x80, 0x5b, 0xc3});
  for (const Patch& p : *patches) CHECK(p.symbol.starts_with("__vdso_"));
}

TEST_CASE("x86-64 image: aliases patched once, link base subtracted, sgx left alone", "[vdso]") {
  const uint64_t link = 0xffffffffff700000ULL;  // old x86-64 vdso prelink address
  const auto img = image64(link, {
                                     {"clock_gettime", link + 0x1000, 0, kWeakFunc},
                                     {"__vdso_clock_gettime", link + 0x1000, 0, kGlobalFunc},
                                     {"__vdso_sgx_enter_enclave", link + 0x1100, 64, kGlobalFunc},
                                     {"__vdso_time", link + 0x1200, 8, kGlobalFunc},
                                 });
  auto patches = syscall_patches(img, 0x7fff00000000);
  REQUIRE(patches.has_value());
  REQUIRE(patches->size() == 2);
  CHECK((*patches)[0].addr == 0x7fff00001000);  // unknown size (0) accepted
  CHECK((*patches)[0].bytes == syscall64_stub(SYS_clock_gettime));
  CHECK((*patches)[1].addr == 0x7fff00001200);  // exactly stub-sized is enough
  CHECK((*patches)[1].bytes == syscall64_stub(SYS_time));
}

TEST_CASE("syscall_patches refuses functions too small for the stub", "[vdso]") {
  auto small64 = syscall_patches(image64(0, {{"__vdso_time", 0x1000, 7, kGlobalFunc}}), 0);
  REQUIRE_FALSE(small64.has_value());
  CHECK(small64.error().message.find("__vdso_time") != std::string::npos);
  auto small32 =
      syscall_patches(image32(0, {{"__vdso_clock_gettime", 0x1000, 17, kGlobalFunc}}), 0);
  CHECK_FALSE(small32.has_value());
  // A too-small function we never patch is not an error.
  CHECK(syscall_patches(image64(0, {{"__vdso_sgx_enter_enclave", 0x1000, 2, kGlobalFunc}}), 0)
            .has_value());
}

TEST_CASE("damaged or foreign images are errors, not crashes", "[vdso]") {
  std::vector<uint8_t> garbage(4096);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  CHECK_FALSE(parse_symbols(garbage).has_value());
  CHECK_FALSE(syscall_patches(garbage, 0).has_value());
  CHECK_FALSE(parse_symbols({}).has_value());

  const OwnVdso vdso = read_own_vdso();
  for (size_t cut : {size_t{4}, size_t{64}, size_t{0x200}, vdso.bytes.size() / 2}) {
    INFO(cut);
    std::span<const uint8_t> truncated(vdso.bytes.data(), cut);
    CHECK_FALSE(parse_symbols(truncated).has_value());
  }
  // Symbol pointing past the end of the image.
  CHECK_FALSE(parse_symbols(image64(0, {{"time", 0x10000, 16, kGlobalFunc}})).has_value());
  // Symbol below the link base.
  CHECK_FALSE(parse_symbols(image64(0x5000, {{"time", 0x1000, 16, kGlobalFunc}})).has_value());
  // Right class, wrong machine.
  auto arm = parse_symbols(image64(0, {{"time", 0x1000, 16, kGlobalFunc}}, EM_AARCH64));
  REQUIRE_FALSE(arm.has_value());
  CHECK(arm.error().message.find("unsupported") != std::string::npos);
}

TEST_CASE("vsyscall_number maps the three legacy entries", "[vdso]") {
  CHECK(vsyscall_number(kVsyscallBase) == SYS_gettimeofday);
  CHECK(vsyscall_number(0xffffffffff600400ULL) == SYS_time);
  CHECK(vsyscall_number(0xffffffffff600800ULL) == SYS_getcpu);
  CHECK_FALSE(vsyscall_number(0xffffffffff600001ULL).has_value());
  CHECK_FALSE(vsyscall_number(0xffffffffff600c00ULL).has_value());
  CHECK_FALSE(vsyscall_number(0).has_value());
}

TEST_CASE("auxv_lookup on hand-built and real buffers", "[vdso]") {
  const uint64_t aux64[] = {AT_PAGESZ, 4096, AT_SYSINFO_EHDR, 0x7ffc1000, AT_SYSINFO_EHDR, 1,
                            AT_NULL,   0,    AT_HWCAP,        99};
  std::span<const uint8_t> bytes64(reinterpret_cast<const uint8_t*>(aux64), sizeof aux64);
  CHECK(auxv_lookup(bytes64, AT_SYSINFO_EHDR) == 0x7ffc1000);  // first entry wins
  CHECK(auxv_lookup(bytes64, AT_PAGESZ) == 4096);
  CHECK_FALSE(auxv_lookup(bytes64, AT_HWCAP).has_value());             // after AT_NULL
  CHECK_FALSE(auxv_lookup(bytes64.first(12), AT_PAGESZ).has_value());  // half a pair

  const uint32_t aux32[] = {AT_SYSINFO, 0xf7fc1570, AT_SYSINFO_EHDR, 0xf7fc1000, AT_NULL, 0};
  std::span<const uint8_t> bytes32(reinterpret_cast<const uint8_t*>(aux32), sizeof aux32);
  CHECK(auxv_lookup(bytes32, AT_SYSINFO, /*is_32bit=*/true) == 0xf7fc1570);
  CHECK(auxv_lookup(bytes32, AT_SYSINFO_EHDR, /*is_32bit=*/true) == 0xf7fc1000);
  // Unaligned start: no alignment is assumed.
  std::vector<uint8_t> shifted(1 + sizeof aux32);
  std::memcpy(shifted.data() + 1, aux32, sizeof aux32);
  CHECK(auxv_lookup(std::span(shifted).subspan(1), AT_SYSINFO, true) == 0xf7fc1570);

  std::ifstream in("/proc/self/auxv", std::ios::binary);
  std::vector<uint8_t> real((std::istreambuf_iterator<char>(in)), {});
  CHECK(auxv_lookup(real, AT_SYSINFO_EHDR) == getauxval(AT_SYSINFO_EHDR));
}
