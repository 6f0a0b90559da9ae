#include "common/error.h"

#include <cstring>

namespace rrl {

std::string Error::describe() const {
  if (sys_errno == 0) return message;
  return message + ": " + std::strerror(sys_errno);
}

void assertion_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "rr-like: internal error: assertion '%s' failed at %s:%d\n", expr, file,
               line);
  std::abort();
}

}  // namespace rrl
