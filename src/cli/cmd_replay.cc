#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "common/log.h"
#include "debugger/launch.h"
#include "replayer/replayer.h"

namespace rrl::cli {

namespace {

constexpr const char* kReplayUsage = R"(usage: rr-like replay [OPTIONS] [TRACE] [-- GDB-OPTIONS...]

Re-execute the recorded run of TRACE (a directory or a trace name; default:
the latest trace) under gdb, forwards and backwards. rr-like serves the replay
on 127.0.0.1 and starts gdb connected to it; gdb's reverse commands
(reverse-continue, reverse-step, reverse-next, reverse-finish) run the
recording backwards. In gdb, `when` shows the current event, `checkpoint`
remembers the current point, `restart N` goes back to checkpoint N (or to
the start), `info checkpoints` lists them.

options:
  -a, --autopilot     no debugger: run the replay to its end, showing again
                      what the program wrote to stdout and stderr; exits 0
                      when the replay reached the end exactly as recorded
  -s, --serve PORT    only serve on 127.0.0.1:PORT and print how to connect
  -p, --pid PID       debug recorded process PID (default: the first one)
  -g, --goto EVENT    first stop before event EVENT (see `rr-like dump`)
  --debugger PATH     the gdb to run (default: gdb)
  -h, --help          show this help
)";

bool parse_number(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

}  // namespace

int cmd_replay(const std::vector<std::string>& args) {
  debugger::DebugOptions dbg;
  bool autopilot = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kReplayUsage, stdout);
      return 0;
    }
    if (a == "--") {
      dbg.gdb_args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-a" || a == "--autopilot") {
      autopilot = true;
      continue;
    }
    bool takes_value = a == "-s" || a == "--serve" || a == "-p" || a == "--pid" || a == "-g" ||
                       a == "--goto" || a == "--debugger";
    if (takes_value) {
      if (i + 1 >= args.size()) return usage_error("option '" + a + "' needs a value", "replay");
      const std::string& v = args[++i];
      uint64_t n = 0;
      if (a == "--debugger") {
        dbg.debugger = v;
      } else if (!parse_number(v, &n)) {
        return usage_error("option '" + a + "' needs a number, not '" + v + "'", "replay");
      } else if (a == "-s" || a == "--serve") {
        if (n == 0 || n > 65535) return usage_error("no such port: " + v, "replay");
        dbg.serve_port = static_cast<uint16_t>(n);
      } else if (a == "-p" || a == "--pid") {
        dbg.pid = static_cast<pid_t>(n);
      } else {
        dbg.start_event = n;
      }
      continue;
    }
    if (!a.empty() && a[0] == '-') return usage_error("unknown option '" + a + "'", "replay");
    if (dbg.trace) return usage_error("more than one trace given", "replay");
    dbg.trace = a;
  }
  if (!autopilot) {
    auto status = debugger::debug_replay(dbg);
    if (!status) {
      print_error(status.error().describe());
      return kExitError;
    }
    return *status;
  }
  auto status = replayer::replay(replayer::ReplayOptions{dbg.trace});
  if (!status) {
    print_error(status.error().describe());
    return kExitError;
  }
  print_note("replay finished: the recorded program exited with status " + std::to_string(*status));
  return 0;
}

}  // namespace rrl::cli
