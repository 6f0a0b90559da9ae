/* poll, ppoll and epoll on pipes, including a blocking wait that a forked
 * child ends by writing. */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

int main(void) {
  int p[2];
  CHECK(pipe(p) == 0);
  struct pollfd pfd = {.fd = p[0], .events = POLLIN};
  CHECK(poll(&pfd, 1, 0) == 0);
  write_all(p[1], "x", 1);
  CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN));
  char c;
  CHECK(read(p[0], &c, 1) == 1);
  struct timespec ts = {0, 1000000};
  CHECK(ppoll(&pfd, 1, &ts, NULL) == 0);
  printf("poll: timeout then readable\n");

  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
  struct epoll_event out[4];
  CHECK(epoll_wait(ep, out, 4, 0) == 0);
  write_all(p[1], "y", 1);
  CHECK(epoll_wait(ep, out, 4, 1000) == 1);
  CHECK(out[0].events == EPOLLIN && out[0].data.u64 == 0x1122334455667788ULL);
  CHECK(read(p[0], &c, 1) == 1 && c == 'y');
  printf("epoll: event with user data\n");

  /* Blocking wait; the child writes after a short sleep. */
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    struct timespec d = {0, 20000000};
    nanosleep(&d, NULL);
    CHILD_CHECK(write(p[1], "z", 1) == 1);
    _exit(0);
  }
  CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].events == EPOLLIN);
  CHECK(read(p[0], &c, 1) == 1 && c == 'z');
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* Hang-up after the writer closes; epoll_pwait with a mask. */
  close(p[1]);
  sigset_t mask;
  sigemptyset(&mask);
  CHECK(epoll_pwait(ep, out, 4, 1000, &mask) == 1 && (out[0].events & EPOLLHUP));
  CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP));
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0);
  CHECK(epoll_wait(ep, out, 4, 0) == 0);
  printf("epoll/poll: hang-up seen\n");
  close(ep);
  close(p[0]);
  test_success();
  return 0;
}
