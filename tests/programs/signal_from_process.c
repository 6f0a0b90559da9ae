/* Another process sends SIGUSR1 to this one while it spins without
 * syscalls; the handler ends the loop. */
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

static volatile sig_atomic_t got;

static void on_usr1(int sig) {
  (void)sig;
  got = 1;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    usleep(10000);
    CHILD_CHECK(kill(parent, SIGUSR1) == 0);
    _exit(0);
  }
  unsigned long spins = 0;
  while (!got) spins++;
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("NONDET spins %lu\n", spins);
  printf("the other process's signal arrived\n");
  test_success();
  return 0;
}
