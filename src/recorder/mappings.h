// The address space of a tracee as /proc/PID/maps shows it, and the saving of
// mapped files' contents into the trace.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "trace/events.h"
#include "trace/trace_writer.h"

namespace rrl::recorder {

struct MapEntry {
  uint64_t start = 0, end = 0, offset = 0;
  uint32_t prot = 0;    // PROT_* bits
  bool shared = false;  // 's' in the flags column
  uint64_t dev = 0, inode = 0;
  std::string path;     // file path, or [stack], [vdso], ... or empty
  bool is_file() const { return inode != 0 && !path.empty() && path[0] == '/'; }
};

Expected<std::vector<MapEntry>> read_maps(pid_t pid);
Expected<std::vector<MapEntry>> parse_maps(const std::string& text);

// Saves the file behind a mapping into the trace and describes the mapping.
// `open_path` is what rr-like opens to read the contents (it may differ from
// the path the program used, e.g. /proc/PID/fd/N or /proc/PID/exe).
Expected<trace::MappingRecord> save_mapping(trace::TraceWriter& writer, const MapEntry& m,
                                            const std::string& open_path);

}  // namespace rrl::recorder
