#include "replayer/exec_copy.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "common/scoped_fd.h"

namespace rrl::replayer {

namespace {

struct InterpInfo {
  uint64_t offset = 0, vaddr = 0, e_entry = 0;
  std::string path;  // without the NUL
};

Expected<std::optional<InterpInfo>> find_interp(int fd) {
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  if (!elf) return fail(std::string("cannot read the program as ELF: ") + elf_errmsg(-1));
  std::optional<InterpInfo> found;
  GElf_Ehdr ehdr;
  size_t count = 0;
  if (gelf_getehdr(elf, &ehdr) && elf_getphdrnum(elf, &count) == 0) {
    for (size_t i = 0; i < count; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_INTERP) continue;
      InterpInfo info{ph.p_offset, ph.p_vaddr, ehdr.e_entry, {}};
      std::vector<char> buf(ph.p_filesz);
      if (::pread(fd, buf.data(), buf.size(), static_cast<off_t>(ph.p_offset)) !=
          static_cast<ssize_t>(buf.size()))
        break;
      info.path.assign(buf.data(), strnlen(buf.data(), buf.size()));
      found = info;
    }
  }
  elf_end(elf);
  return found;
}

}  // namespace

Expected<std::optional<InterpPatch>> make_exec_copy(const std::string& exe,
                                                    const std::string& interp,
                                                    const std::string& dir,
                                                    const std::string& copy_name) {
  std::string copy = dir + "/" + copy_name;
  std::error_code ec;
  std::filesystem::remove(copy, ec);
  if (!std::filesystem::copy_file(exe, copy, ec))
    return fail("cannot copy " + exe + " for replay: " + ec.message());
  ::chmod(copy.c_str(), 0700);
  ScopedFd fd(::open(copy.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("open " + copy);
  auto info = find_interp(fd.get());
  if (!info) return std::unexpected(info.error());
  if (!*info || interp.empty() || (*info)->path.empty() || (*info)->path.size() > 200)
    return std::optional<InterpPatch>();
  const auto& in = **info;
  std::string name(in.path.size(), 'L');  // relative: found in the working directory
  std::string link = dir + "/" + name, tmp = dir + "/.new-interp";
  ::unlink(tmp.c_str());
  if (::symlink(interp.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0)
    return fail_errno("link " + link + " to " + interp);
  if (::pwrite(fd.get(), name.data(), name.size(), static_cast<off_t>(in.offset)) !=
      static_cast<ssize_t>(name.size()))
    return fail_errno("rewrite the loader path in " + copy);
  return InterpPatch{in.vaddr, in.e_entry, in.path};
}

}  // namespace rrl::replayer
