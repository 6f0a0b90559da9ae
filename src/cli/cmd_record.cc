#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "common/log.h"
#include "recorder/recorder.h"

namespace rrl::cli {

namespace {

constexpr const char* kRecordUsage =
    R"(usage: rr-like record [-o DIR] [--no-syscall-buffer] [--chaos[=SEED]] [--] PROG [ARGS...]

Run PROG with ARGS under recording. PROG's stdin, stdout, stderr, environment
and working directory are its own; rr-like exits with PROG's exit status
(128+N when signal N killed it).

options:
  -o, --output DIR   write the trace to DIR (default: $RR_LIKE_TRACE_DIR/PROG-N,
                     else ~/.local/share/rr-like/PROG-N, with a latest-trace link)
  --no-syscall-buffer
                     stop at every syscall through ptrace (slower); by default
                     syscall sites in libc, ld.so and the vdso are patched to
                     record common non-blocking syscalls without a stop
  --chaos[=SEED]     chaos mode: random time slices and task order, to make
                     concurrency bugs show up; prints the seed (a number),
                     which --chaos=SEED reuses
  -h, --help         show this help
)";

}  // namespace

int cmd_record(const std::vector<std::string>& args) {
  recorder::RecordOptions opts;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      std::fputs(kRecordUsage, stdout);
      return 0;
    }
    if (a == "-o" || a == "--output") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a directory", "record");
      opts.output_dir = args[++i];
      continue;
    }
    if (a == "--no-syscall-buffer") {
      opts.syscall_buffer = false;
      continue;
    }
    if (a == "--chaos") {
      opts.chaos = true;
      continue;
    }
    if (a.rfind("--chaos=", 0) == 0) {
      std::string seed = a.substr(8);
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(seed.c_str(), &end, 10);
      if (seed.empty() || !std::isdigit(static_cast<unsigned char>(seed[0])) || *end != 0 ||
          errno != 0)
        return usage_error("--chaos needs a number as its seed, not '" + seed + "'", "record");
      opts.chaos = true;
      opts.chaos_seed = v;
      continue;
    }
    if (a.rfind("--output=", 0) == 0) {
      opts.output_dir = a.substr(9);
      continue;
    }
    if (!a.empty() && a[0] == '-') return usage_error("unknown option '" + a + "'", "record");
    break;
  }
  if (i >= args.size()) return usage_error("no program to record", "record");
  opts.argv.assign(args.begin() + static_cast<long>(i), args.end());
  auto status = recorder::record(opts);
  if (!status) {
    print_error(status.error().describe());
    return kExitError;
  }
  return *status;
}

}  // namespace rrl::cli
