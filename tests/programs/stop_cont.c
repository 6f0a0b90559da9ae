/* Job control: a child stops itself (SIGSTOP), the parent sees it stopped
 * (WUNTRACED), continues it (SIGCONT, which the child handles) and reaps it;
 * then the same with SIGTSTP and a handler that ignores it. */
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

static volatile sig_atomic_t continued, tstp_seen;

static void on_cont(int sig) {
  (void)sig;
  continued = 1;
}

static void on_tstp(int sig) {
  (void)sig;
  tstp_seen = 1;
}

int main(void) {
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    signal(SIGCONT, on_cont);
    raise(SIGSTOP);
    CHILD_CHECK(continued);
    _exit(7);
  }
  int status = 0;
  CHECK(waitpid(child, &status, WUNTRACED) == child);
  CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
  printf("child stopped\n");
  CHECK(kill(child, SIGCONT) == 0);
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  printf("child continued and exited\n");

  signal(SIGTSTP, on_tstp);
  CHECK(raise(SIGTSTP) == 0);
  CHECK(tstp_seen);
  printf("SIGTSTP handled\n");
  test_success();
  return 0;
}
