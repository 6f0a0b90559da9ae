/* Exits with status 3 (checks exit status passthrough). */
#include "util.h"

int main(void) {
  printf("exiting with status 3\n");
  fprintf(stderr, "a line on stderr\n");
  return 3;
}
