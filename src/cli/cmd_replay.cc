#include <cstdio>

#include "cli/commands.h"
#include "common/log.h"
#include "replayer/replayer.h"

namespace rrl::cli {

namespace {

constexpr const char* kReplayUsage = R"(usage: rr-like replay -a [TRACE]

Re-execute the recorded run of TRACE (a directory or a trace name; default:
the latest trace) from the trace alone, and show again what the program wrote
to stdout and stderr. Exits 0 when the replay reached the end of the trace
exactly as recorded; a divergence from the recording is an error.

options:
  -a, --autopilot   run the replay to its end without a debugger
  -h, --help        show this help
)";

}  // namespace

int cmd_replay(const std::vector<std::string>& args) {
  replayer::ReplayOptions opts;
  bool autopilot = false;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(kReplayUsage, stdout);
      return 0;
    }
    if (a == "-a" || a == "--autopilot") {
      autopilot = true;
      continue;
    }
    if (!a.empty() && a[0] == '-') return usage_error("unknown option '" + a + "'", "replay");
    if (opts.trace) return usage_error("more than one trace given", "replay");
    opts.trace = a;
  }
  if (!autopilot) {
    print_error(
        "replay under gdb is not available in this version of rr-like; use `rr-like replay -a`");
    return kExitUsage;
  }
  auto status = replayer::replay(opts);
  if (!status) {
    print_error(status.error().describe());
    return kExitError;
  }
  print_note("replay finished: the recorded program exited with status " + std::to_string(*status));
  return 0;
}

}  // namespace rrl::cli
