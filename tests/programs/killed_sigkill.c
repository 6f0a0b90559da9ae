/* Prints a line, then kills itself with SIGKILL: expected status 128+9. */
#include <signal.h>

#include "util.h"

int main(void) {
  printf("about to raise SIGKILL\n");
  fflush(stdout);
  raise(SIGKILL);
  printf("FAIL: survived SIGKILL\n");
  return 1;
}
