// Logging through channels, one per module, switched on at run time:
//   RR_LIKE_LOG=recorder:debug,trace:info
// Every line starts with "rr-like:" and carries the tid when one is given.
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace rrl {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

class LogChannel {
 public:
  explicit LogChannel(const char* name);
  bool enabled(LogLevel level) const;
  template <typename... Args>
  void log(LogLevel level, int tid, fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(level)) write(level, tid, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void debug(int tid, fmt::format_string<Args...> f, Args&&... args) const {
    log(LogLevel::kDebug, tid, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(int tid, fmt::format_string<Args...> f, Args&&... args) const {
    log(LogLevel::kInfo, tid, f, std::forward<Args>(args)...);
  }

 private:
  void write(LogLevel level, int tid, std::string_view text) const;
  const char* name_;
  mutable int level_ = -1;  // resolved lazily from RR_LIKE_LOG
};

// User-facing messages (not channel logs): always printed, "rr-like: " prefix.
void print_error(std::string_view text);
void print_warning(std::string_view text);
void print_note(std::string_view text);

}  // namespace rrl
