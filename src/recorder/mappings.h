// The address space of a tracee as /proc/PID/maps shows it, and the saving of
// mapped files' contents into the trace.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/proc_maps.h"
#include "trace/events.h"
#include "trace/trace_writer.h"

namespace rrl::recorder {

// Saves the file behind a mapping into the trace and describes the mapping.
// `open_path` is what rr-like opens to read the contents (it may differ from
// the path the program used, e.g. /proc/PID/fd/N or /proc/PID/exe).
Expected<trace::MappingRecord> save_mapping(trace::TraceWriter& writer, const MapEntry& m,
                                            const std::string& open_path);

}  // namespace rrl::recorder
