#include "recorder/mappings.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/scoped_fd.h"

namespace rrl::recorder {

Expected<trace::MappingRecord> save_mapping(trace::TraceWriter& writer, const MapEntry& m,
                                            const std::string& open_path) {
  trace::MappingRecord rec;
  rec.start = m.start;
  rec.end = m.end;
  rec.offset = m.offset;
  rec.prot = m.prot;
  rec.flags = m.shared ? MAP_SHARED : MAP_PRIVATE;
  rec.path = m.path;
  rec.dev = m.dev;
  rec.inode = m.inode;
  if (!m.is_file()) return rec;
  auto name = writer.save_file(open_path, m.path);
  if (!name) return std::unexpected(name.error());
  rec.trace_file = *name;
  return rec;
}

}  // namespace rrl::recorder
