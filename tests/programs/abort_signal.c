/* Prints a line, then abort()s: expected status 128+6. No core file. */
#include <signal.h>
#include <sys/resource.h>

#include "util.h"

int main(void) {
  struct rlimit none = {0, 0};
  CHECK(setrlimit(RLIMIT_CORE, &none) == 0);
  printf("about to abort\n");
  fflush(stdout);
  abort();
}
