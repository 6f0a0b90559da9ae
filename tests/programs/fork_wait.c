/* fork + wait4 with exit statuses, a signalled child and rusage. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "util.h"

int main(void) {
  fflush(stdout);
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    CHILD_CHECK(getppid() == parent);
    CHILD_CHECK(getpid() != parent);
    _exit(42);
  }
  int status = 0;
  struct rusage ru;
  CHECK(wait4(child, &status, 0, &ru) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
  printf("child exited with %d\n", WEXITSTATUS(status));

  /* A child killed by a signal. */
  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    for (;;) pause();
  }
  CHECK(kill(child, SIGTERM) == 0);
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  printf("child killed by signal %d\n", WTERMSIG(status));

  /* WNOHANG while running, then reap. */
  int p[2];
  CHECK(pipe(p) == 0);
  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    char c;
    close(p[1]);
    CHILD_CHECK(read(p[0], &c, 1) == 1);
    _exit(c);
  }
  close(p[0]);
  CHECK(waitpid(child, &status, WNOHANG) == 0);
  write_all(p[1], "\x07", 1);
  close(p[1]);
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
  test_success();
  return 0;
}
