// `rr-like record`: run a program under ptrace and write its trace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace rrl::recorder {

struct RecordOptions {
  std::vector<std::string> argv;          // program and its arguments, argv[0] as typed
  std::optional<std::string> output_dir;  // -o DIR
  bool syscall_buffer = true;             // --no-syscall-buffer turns it off
  bool chaos = false;                     // --chaos[=SEED] (chaos.h)
  std::optional<uint64_t> chaos_seed;     // the SEED; else a fresh one
};

// Records the program. Returns the exit status rr-like should exit with: the
// program's own (128+N when a signal killed it), or an error for a recording
// that could not be made or written.
Expected<int> record(const RecordOptions& options);

}  // namespace rrl::recorder
