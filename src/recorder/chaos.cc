#include "recorder/chaos.h"

#include <sys/random.h>
#include <time.h>

namespace rrl::recorder {

uint64_t Chaos::fresh_seed() {
  uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, 0) == sizeof seed) return seed % 1000000000;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_nsec) % 1000000000;
}

// Half the slices are 1-2 ms (a task is interrupted inside short loops and
// critical sections), most others up to 10 ms, a few as long as the usual
// slice (a task also gets to run far ahead of the others).
int64_t Chaos::slice_ms() {
  uint64_t kind = below(8);
  if (kind < 4) return 1 + static_cast<int64_t>(below(2));
  if (kind < 7) return 3 + static_cast<int64_t>(below(8));
  return 11 + static_cast<int64_t>(below(40));
}

bool Chaos::yield_after_syscall() {
  return below(4) == 0;
}

size_t Chaos::pick(size_t n) {
  return static_cast<size_t>(below(n));
}

}  // namespace rrl::recorder
