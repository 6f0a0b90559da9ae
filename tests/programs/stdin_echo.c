/* Reads all of stdin and prints its length and checksum. The harness feeds
 * a fixed text whose first line is "rr-like test input". */
#include "util.h"

int main(void) {
  static char buf[1 << 20];
  size_t len = read_full(STDIN_FILENO, buf, sizeof buf);
  CHECK(len < sizeof buf);
  static const char first[] = "rr-like test input\n";
  CHECK(len >= sizeof first - 1);
  CHECK(memcmp(buf, first, sizeof first - 1) == 0);
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  printf("stdin: %zu bytes, %zu lines, fnv1a %016lx\n", len, lines, fnv1a(buf, len, FNV_INIT));
  fwrite(buf, 1, len < 200 ? len : 200, stdout);
  printf("\n");
  test_success();
  return 0;
}
