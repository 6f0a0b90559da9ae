/* Pipes within one process: data, EOF, EPIPE, O_NONBLOCK and pipe2. */
#include <fcntl.h>
#include <signal.h>

#include "util.h"

int main(void) {
  int p[2];
  CHECK(pipe(p) == 0);
  write_all(p[1], "ping", 4);
  char buf[16] = {0};
  CHECK(read(p[0], buf, sizeof buf) == 4);
  CHECK(memcmp(buf, "ping", 4) == 0);
  CHECK(close(p[1]) == 0);
  CHECK(read(p[0], buf, sizeof buf) == 0); /* EOF */
  CHECK(close(p[0]) == 0);

  /* Writing to a pipe without readers: EPIPE (SIGPIPE ignored). */
  CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
  CHECK(pipe(p) == 0);
  CHECK(close(p[0]) == 0);
  CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE);
  CHECK(close(p[1]) == 0);

  /* Non-blocking pipe: EAGAIN when empty and when full. */
  CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  CHECK(read(p[0], buf, 1) == -1 && errno == EAGAIN);
  static char chunk[4096];
  memset(chunk, 'z', sizeof chunk);
  size_t total = 0;
  for (;;) {
    ssize_t n = write(p[1], chunk, sizeof chunk);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      break;
    }
    total += (size_t)n;
    CHECK(total < (16u << 20));
  }
  CHECK(total >= 4096);
  size_t drained = 0;
  for (;;) {
    ssize_t n = read(p[0], chunk, sizeof chunk);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      break;
    }
    drained += (size_t)n;
  }
  CHECK(drained == total);
  printf("pipe capacity matched: %s\n", drained == total ? "yes" : "no");
  CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC);
  close(p[0]);
  close(p[1]);
  test_success();
  return 0;
}
