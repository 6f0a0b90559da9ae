/* Buffered writes to stdout that fill a half of the syscall buffer, then a
 * traced close(1) right after. rr-like reads a full half later, on its
 * trace-writing thread, and works out there which writes went to its own
 * stdout (replay shows those) by looking at the program's fds: it must have
 * done so before the close, or replay prints less than the program did
 * (recorder/syscallbuf.cc, await_buffer_read). About 17,500 records fill a
 * half; 18,000 one-line writes put the close right after the wrap. */
#include "util.h"

enum { kWrites = 18000 };

int main(void) {
  for (int i = 0; i < kWrites; i++) CHECK(write(1, "x\n", 2) == 2);
  test_success();
  CHECK(close(1) == 0);
  return 0;
}
