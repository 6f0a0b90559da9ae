// `rr-like replay -a`: re-execute a recorded run from its trace alone.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/error.h"

namespace rrl::replayer {

struct ReplayOptions {
  std::optional<std::string> trace;  // directory or name; default: the latest trace
};

class ReplaySession;

// A trace checked once for replay (complete, readable), with what every
// replay session of it needs.
struct PreparedTrace {
  std::string dir;
  std::set<std::string> shared_files;  // see replayer.cc
};
Expected<PreparedTrace> prepare(const ReplayOptions& options);
// A new replay of the trace, from its start.
Expected<std::unique_ptr<ReplaySession>> open_session(const PreparedTrace& trace);

// Replays the whole trace. Returns the recorded program's exit status (shell
// style) when replay reached the end faithfully; an Error for a divergence or
// an unusable trace.
Expected<int> replay(const ReplayOptions& options);

}  // namespace rrl::replayer
