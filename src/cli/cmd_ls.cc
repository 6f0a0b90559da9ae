#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "cli/commands.h"
#include "common/log.h"
#include "trace/header.h"
#include "trace/trace_dir.h"

namespace rrl::cli {

namespace {

constexpr const char* kLsUsage = R"(usage: rr-like ls

List the traces in the trace directory ($RR_LIKE_TRACE_DIR, else
~/.local/share/rr-like): name, program, start time, size on disk, and whether
the recording is complete.
)";

uint64_t disk_usage(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{}B", bytes) : fmt::format("{:.1f}{}", v, units[u]);
}

std::string format_time(int64_t ns) {
  time_t t = static_cast<time_t>(ns / 1000000000);
  tm local;
  localtime_r(&t, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

}  // namespace

int cmd_ls(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(kLsUsage, stdout);
      return 0;
    }
    return usage_error("unknown argument '" + a + "'", "ls");
  }
  std::string root = trace::default_trace_root();
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (entry.is_symlink() || !entry.is_directory()) continue;
    names.push_back(entry.path().filename().string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    print_error("cannot list " + root + ": " + ec.message());
    return kExitError;
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    std::printf("no traces in %s\n", root.c_str());
    return 0;
  }
  std::printf("%-24s %-28s %-19s %8s  %s\n", "NAME", "PROGRAM", "START", "SIZE", "STATUS");
  for (const auto& n : names) {
    std::string dir = root + "/" + n;
    auto h = trace::read_header(dir);
    if (!h) {
      std::printf("%-24s %-28s %-19s %8s  %s\n", n.c_str(), "?", "?", "?", "unreadable");
      continue;
    }
    bool complete = h->state == trace::Header::State::kComplete;
    std::string status = complete ? "complete" : "incomplete (" + trace::state_name(h->state) + ")";
    std::printf("%-24s %-28s %-19s %8s  %s\n", n.c_str(), h->program.c_str(),
                format_time(h->start_time_ns).c_str(), human_size(disk_usage(dir)).c_str(),
                status.c_str());
  }
  return 0;
}

}  // namespace rrl::cli
