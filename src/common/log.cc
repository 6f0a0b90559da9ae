#include "common/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rrl {

namespace {

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

int parse_level(std::string_view s) {
  if (s == "error") return 0;
  if (s == "warn") return 1;
  if (s == "info") return 2;
  return 3;
}

// Returns the level configured for `name` in RR_LIKE_LOG ("all" matches every channel).
int configured_level(const char* name) {
  const char* env = std::getenv("RR_LIKE_LOG");
  if (!env) return 1;
  std::string_view spec(env);
  int level = 1;
  while (!spec.empty()) {
    auto comma = spec.find(',');
    auto item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    auto colon = item.find(':');
    auto chan = item.substr(0, colon);
    auto lvl = colon == std::string_view::npos ? std::string_view("debug") : item.substr(colon + 1);
    if (chan == name || chan == "all") level = parse_level(lvl);
  }
  return level;
}

}  // namespace

LogChannel::LogChannel(const char* name) : name_(name) {}

bool LogChannel::enabled(LogLevel level) const {
  if (level_ < 0) level_ = configured_level(name_);
  return static_cast<int>(level) <= level_;
}

void LogChannel::write(LogLevel level, int tid, std::string_view text) const {
  if (tid > 0)
    std::fprintf(stderr, "rr-like: [%s %s %d] %.*s\n", name_, level_name(level), tid,
                 static_cast<int>(text.size()), text.data());
  else
    std::fprintf(stderr, "rr-like: [%s %s] %.*s\n", name_, level_name(level),
                 static_cast<int>(text.size()), text.data());
}

void print_error(std::string_view text) {
  std::fprintf(stderr, "rr-like: error: %.*s\n", static_cast<int>(text.size()), text.data());
}
void print_warning(std::string_view text) {
  std::fprintf(stderr, "rr-like: warning: %.*s\n", static_cast<int>(text.size()), text.data());
}
void print_note(std::string_view text) {
  std::fprintf(stderr, "rr-like: %.*s\n", static_cast<int>(text.size()), text.data());
}

}  // namespace rrl
