// Minimal JSON output for `rr-like dump` and friends: one object per line.
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace rrl::cli {

std::string json_escape(std::string_view s);

// Builds {"k":v,...} one field at a time.
class JsonObject {
 public:
  JsonObject& num(std::string_view key, int64_t v) { return raw(key, std::to_string(v)); }
  JsonObject& unum(std::string_view key, uint64_t v) { return raw(key, std::to_string(v)); }
  JsonObject& hex(std::string_view key, uint64_t v) { return str(key, fmt::format("{:#x}", v)); }
  JsonObject& str(std::string_view key, std::string_view v) {
    return raw(key, "\"" + json_escape(v) + "\"");
  }
  JsonObject& boolean(std::string_view key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonObject& raw(std::string_view key, std::string_view json) {
    body_ += body_.empty() ? "" : ",";
    body_ += "\"" + json_escape(key) + "\":" + std::string(json);
    return *this;
  }
  std::string done() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace rrl::cli
