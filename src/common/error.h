// Error type shared by every layer: recoverable failures return
// std::expected<T, Error>; invariants use RRL_ASSERT, which stays on in release.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <string>
#include <utility>

namespace rrl {

struct Error {
  std::string message;
  int sys_errno = 0;  // errno of the failing call, 0 when not a system error

  static Error from_errno(std::string what, int err = errno) { return Error{std::move(what), err}; }
  std::string describe() const;
};

template <typename T>
using Expected = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error{std::move(message), 0});
}
inline std::unexpected<Error> fail_errno(std::string message, int err = errno) {
  return std::unexpected(Error{std::move(message), err});
}

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line);

}  // namespace rrl

#define RRL_ASSERT(expr) ((expr) ? (void)0 : ::rrl::assertion_failed(#expr, __FILE__, __LINE__))

// Propagate an error from an Expected-returning expression.
#define RRL_TRY(expr)                                             \
  do {                                                            \
    if (auto rrl_try_result_ = (expr); !rrl_try_result_)          \
      return std::unexpected(std::move(rrl_try_result_).error()); \
  } while (0)
