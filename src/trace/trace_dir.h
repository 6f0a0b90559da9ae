// Where traces live and how they are named: ROOT/PROG-N, plus a symlink
// ROOT/latest-trace to the newest one. ROOT is default_trace_root().
#pragma once

#include <optional>
#include <string>

#include "common/error.h"

namespace rrl::trace {

// $RR_LIKE_TRACE_DIR, else $XDG_DATA_HOME/rr-like, else $HOME/.local/share/rr-like.
std::string default_trace_root();

// The trace a user means: NAME if it is a directory, else ROOT/NAME; with no
// name, the target of ROOT/latest-trace.
Expected<std::string> resolve_trace_dir(std::optional<std::string> name);

// ROOT/EXE-N for the first free N from 0. The directory is created (empty,
// mode 0700, ROOT too if needed) to reserve the name, so that two recordings
// started at the same moment never share a directory; TraceWriter::create
// accepts an empty directory.
Expected<std::string> make_trace_dir_name(const std::string& root, const std::string& exe_basename);

// Points ROOT/latest-trace at DIR, replacing the old link atomically.
Status update_latest_link(const std::string& root, const std::string& dir);

}  // namespace rrl::trace
