/* select and pselect on pipes: timeout, readable, writable. */
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

#include "util.h"

int main(void) {
  int p[2];
  CHECK(pipe(p) == 0);
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  struct timeval tv = {0, 10000};
  CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 0);
  CHECK(!FD_ISSET(p[0], &rd));
  printf("select timed out on an empty pipe\n");

  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  tv = (struct timeval){1, 0};
  CHECK(select(p[1] + 1, NULL, &wr, NULL, &tv) == 1 && FD_ISSET(p[1], &wr));

  write_all(p[1], "abc", 3);
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  tv = (struct timeval){1, 0};
  int maxfd = p[0] > p[1] ? p[0] : p[1];
  CHECK(select(maxfd + 1, &rd, &wr, NULL, &tv) == 2);
  CHECK(FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr));
  char buf[8];
  CHECK(read(p[0], buf, sizeof buf) == 3);
  printf("select saw readable and writable\n");

  /* pselect blocks until a child writes. */
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    usleep(20000);
    CHILD_CHECK(write(p[1], "w", 1) == 1);
    _exit(0);
  }
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  sigset_t mask;
  sigemptyset(&mask);
  struct timespec ts = {5, 0};
  CHECK(pselect(p[0] + 1, &rd, NULL, NULL, &ts, &mask) == 1 && FD_ISSET(p[0], &rd));
  CHECK(read(p[0], buf, 1) == 1 && buf[0] == 'w');
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("pselect woke up on the child's write\n");
  close(p[0]);
  close(p[1]);
  test_success();
  return 0;
}
