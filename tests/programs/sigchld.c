/* A SIGCHLD handler runs when children exit; checks si_code/si_status. */
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

static volatile sig_atomic_t got_chld, chld_code, chld_status, chld_pid_ok;
static volatile pid_t expected_pid;

static void on_chld(int sig, siginfo_t* info, void* context) {
  (void)context;
  if (sig != SIGCHLD || info->si_signo != SIGCHLD) return;
  got_chld++;
  chld_code = info->si_code;
  chld_status = info->si_status;
  chld_pid_ok = info->si_pid == expected_pid;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);

  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  for (int round = 0; round < 3; round++) {
    CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) _exit(10 + round);
    expected_pid = child;
    got_chld = 0;
    while (!got_chld) sigsuspend(&old); /* handler runs inside sigsuspend */
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
    CHECK(chld_code == CLD_EXITED && chld_status == 10 + round && chld_pid_ok);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 10 + round);
    printf("round %d: SIGCHLD with CLD_EXITED status %d\n", round, (int)chld_status);
  }

  /* A child killed by a signal: CLD_KILLED. */
  CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    for (;;) pause();
  }
  expected_pid = child;
  got_chld = 0;
  CHECK(kill(child, SIGKILL) == 0);
  while (!got_chld) sigsuspend(&old);
  CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
  CHECK(chld_code == CLD_KILLED && chld_status == SIGKILL && chld_pid_ok);
  CHECK(waitpid(child, NULL, 0) == child);
  printf("SIGCHLD with CLD_KILLED\n");
  test_success();
  return 0;
}
