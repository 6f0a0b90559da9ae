// rr-like: record a Linux program once, replay it exactly, debug it in gdb.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"
#include "rr_like_config.h"

namespace {

constexpr const char* kUsage = R"(usage: rr-like [--version] [--help] COMMAND [ARGS]

Record a program's execution into a trace, then inspect the trace.

commands:
  record [-o DIR] [--] PROG [ARGS...]   run PROG and record everything it observes
  replay -a [TRACE]                     re-execute a recorded run from its trace
  ls                                    list recorded traces
  dump [TRACE]                          print a trace's events as JSON lines

Run `rr-like COMMAND --help` for a command's options.
Traces go to $RR_LIKE_TRACE_DIR, else ~/.local/share/rr-like.
Logging: RR_LIKE_LOG=recorder:debug,ptrace:debug,...
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return rrl::cli::kExitUsage;
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "-V") {
    std::printf("rr-like %s\n", RR_LIKE_VERSION);
    return 0;
  }
  if (cmd == "record") return rrl::cli::cmd_record(rest);
  if (cmd == "replay") return rrl::cli::cmd_replay(rest);
  if (cmd == "ls") return rrl::cli::cmd_ls(rest);
  if (cmd == "dump") return rrl::cli::cmd_dump(rest);
  if (!cmd.empty() && cmd[0] == '-')
    return rrl::cli::usage_error("unknown option '" + cmd + "'", "");
  return rrl::cli::usage_error("unknown command '" + cmd + "'", "");
}

namespace rrl::cli {

int usage_error(const std::string& text, const std::string& command) {
  print_error(text);
  std::fprintf(stderr, "rr-like: run `rr-like %s--help` for usage\n",
               command.empty() ? "" : (command + " ").c_str());
  return kExitUsage;
}

}  // namespace rrl::cli
