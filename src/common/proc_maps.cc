#include "common/proc_maps.h"

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace rrl {

Expected<std::vector<MapEntry>> parse_maps(const std::string& text) {
  std::vector<MapEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    MapEntry m;
    char perms[8] = {};
    unsigned dev_major = 0, dev_minor = 0;
    unsigned long long start, end, offset, inode;
    int consumed = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset,
                    &dev_major, &dev_minor, &inode, &consumed) < 7)
      return fail("cannot parse maps line: " + line);
    m.start = start;
    m.end = end;
    m.offset = offset;
    m.inode = inode;
    m.dev = makedev(dev_major, dev_minor);
    m.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
             (perms[2] == 'x' ? PROT_EXEC : 0);
    m.shared = perms[3] == 's';
    if (consumed > 0 && static_cast<size_t>(consumed) <= line.size())
      m.path = line.substr(consumed);
    out.push_back(std::move(m));
  }
  return out;
}

Expected<std::vector<MapEntry>> read_maps(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  std::ifstream f(path);
  if (!f) return fail_errno("read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_maps(ss.str());
}

}  // namespace rrl
