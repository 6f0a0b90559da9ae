// /proc/PID/maps, parsed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace rrl {

struct MapEntry {
  uint64_t start = 0, end = 0, offset = 0;
  uint32_t prot = 0;    // PROT_* bits
  bool shared = false;  // 's' in the flags column
  uint64_t dev = 0, inode = 0;
  std::string path;  // file path, or [stack], [vdso], ... or empty
  bool is_file() const { return inode != 0 && !path.empty() && path[0] == '/'; }
};

Expected<std::vector<MapEntry>> read_maps(pid_t pid);
Expected<std::vector<MapEntry>> parse_maps(const std::string& text);

}  // namespace rrl
