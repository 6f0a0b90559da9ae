// The `rr-like` subcommands. Each returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace rrl::cli {

// Exit statuses of rr-like itself (record passes the program's own through).
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

int cmd_record(const std::vector<std::string>& args);
int cmd_replay(const std::vector<std::string>& args);
int cmd_ls(const std::vector<std::string>& args);
int cmd_dump(const std::vector<std::string>& args);

// Prints "rr-like: error: TEXT" plus a hint to run --help; returns kExitUsage.
int usage_error(const std::string& text, const std::string& command);

}  // namespace rrl::cli
