// `rr-like replay -a`: re-execute a recorded run from its trace alone.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"

namespace rrl::replayer {

struct ReplayOptions {
  std::optional<std::string> trace;  // directory or name; default: the latest trace
};

// Replays the whole trace. Returns the recorded program's exit status (shell
// style) when replay reached the end faithfully; an Error for a divergence or
// an unusable trace.
Expected<int> replay(const ReplayOptions& options);

}  // namespace rrl::replayer
