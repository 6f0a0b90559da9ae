/* getrandom and /dev/urandom give non-zero, non-repeating bytes. */
#include <fcntl.h>
#include <sys/random.h>

#include "util.h"

static int all_zero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

int main(void) {
  unsigned char a[32], b[32], c[4096];
  CHECK(getrandom(a, sizeof a, 0) == (ssize_t)sizeof a);
  CHECK(getrandom(b, sizeof b, GRND_NONBLOCK) == (ssize_t)sizeof b);
  CHECK(!all_zero(a, sizeof a) && !all_zero(b, sizeof b));
  CHECK(memcmp(a, b, sizeof a) != 0);
  printf("getrandom: two non-zero, different blocks\n");

  CHECK(getrandom(c, sizeof c, 0) == (ssize_t)sizeof c);
  int seen[256] = {0}, distinct = 0;
  for (size_t i = 0; i < sizeof c; i++)
    if (!seen[c[i]]++) distinct++;
  CHECK(distinct > 200);
  printf("getrandom: large block looks random\n");

  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(read_full(fd, a, sizeof a) == sizeof a);
  CHECK(read_full(fd, b, sizeof b) == sizeof b);
  CHECK(memcmp(a, b, sizeof a) != 0 && !all_zero(a, sizeof a));
  close(fd);
  printf("/dev/urandom: two different blocks\n");
  test_success();
  return 0;
}
