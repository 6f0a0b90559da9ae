// Unit tests of replay pieces that need no tracee: the register comparison
// and the executable copy that loads the trace's dynamic loader.
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "replayer/exec_copy.h"
#include "replayer/replay_session.h"

using namespace rrl;
using namespace rrl::replayer;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = std::filesystem::temp_directory_path() / "rrl-unit-XXXXXX";
    REQUIRE(::mkdtemp(t.data()));
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("registers are compared up to the syscall's arguments", "[replayer]") {
  Registers a, b;
  a.r.rip = b.r.rip = 0x1000;
  a.r.rsp = b.r.rsp = 0x7ff0;
  a.r.rdi = b.r.rdi = 3;
  a.r.rdx = 100;
  b.r.rdx = 200;  // third argument differs
  a.r.rbx = 1;
  b.r.rbx = 2;  // not an argument: never compared
  CHECK_FALSE(compare_regs(a, b, 2).has_value());
  auto diff = compare_regs(a, b, 3);
  REQUIRE(diff.has_value());
  CHECK(diff->find("rdx recorded 0x64, replayed 0xc8") != std::string::npos);
  b.r.rip = 0x2000;
  CHECK(compare_regs(a, b, 0).has_value());  // rip always counts
  CHECK(syscall_arg_count(SYS_getpid) == 0);
  CHECK(syscall_arg_count(SYS_close) == 1);
  CHECK(syscall_arg_count(SYS_write) == 3);
  CHECK(syscall_arg_count(SYS_mmap) == 6);
}

TEST_CASE("the exec copy loads another dynamic loader through a same-length name", "[replayer]") {
  TempDir dir;
  const std::string exe = "/bin/true";
  auto patch = make_exec_copy(exe, "/some/saved/ld.so", dir.path, "exe-0");
  REQUIRE(patch);
  REQUIRE(patch->has_value());
  const InterpPatch& p = **patch;
  CHECK(p.original.starts_with("/"));
  CHECK(p.original.find("ld-linux") != std::string::npos);
  // The copy differs from the original only in the loader path, now relative.
  std::string original = read_all(exe), copy = read_all(dir.path + "/exe-0");
  REQUIRE(original.size() == copy.size());
  size_t at = original.find(p.original);
  REQUIRE(at != std::string::npos);
  CHECK(copy.compare(at, p.original.size(), std::string(p.original.size(), 'L')) == 0);
  CHECK(copy.substr(0, at) == original.substr(0, at));
  CHECK(copy.substr(at + p.original.size()) == original.substr(at + p.original.size()));
  // The link with that name points at the loader to use.
  CHECK(std::filesystem::read_symlink(dir.path + "/" + std::string(p.original.size(), 'L')) ==
        "/some/saved/ld.so");
  CHECK(::access((dir.path + "/exe-0").c_str(), X_OK) == 0);
  CHECK(p.e_entry != 0);
}

TEST_CASE("a program without a loader is copied unchanged", "[replayer]") {
  TempDir dir;
  // A static ELF of our own making: just an ELF header, no program headers.
  std::string path = dir.path + "/static";
  {
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_ehsize = sizeof eh;
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(&eh), sizeof eh);
  }
  auto patch = make_exec_copy(path, "/some/ld.so", dir.path, "exe-1");
  REQUIRE(patch);
  CHECK_FALSE(patch->has_value());
  CHECK(read_all(dir.path + "/exe-1") == read_all(path));
  CHECK_FALSE(make_exec_copy(dir.path + "/missing", "", dir.path, "exe-2"));
}
