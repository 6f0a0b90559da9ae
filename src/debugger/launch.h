// `rr-like replay` with a debugger: serve the replay to gdb over the remote
// protocol on 127.0.0.1, and start gdb connected to it (unless only serving).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace rrl::debugger {

struct DebugOptions {
  std::optional<std::string> trace;
  std::optional<uint16_t> serve_port;  // -s PORT: serve only, print how to connect
  pid_t pid = 0;                       // -p PID: the recorded process to debug
  uint64_t start_event = 0;            // -g EVENT: gdb's first stop
  std::string debugger = "gdb";        // --debugger PATH
  std::vector<std::string> gdb_args;   // after `--`
};

// Returns the exit status for rr-like: gdb's when it was started here.
Expected<int> debug_replay(const DebugOptions& options);

}  // namespace rrl::debugger
