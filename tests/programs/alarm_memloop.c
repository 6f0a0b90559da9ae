/* A loop that only increments memory through a fixed pointer, stopped by
 * SIGALRM: every iteration has the same registers, so only memory tells the
 * interrupted iteration apart. */
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

#include "util.h"

static volatile sig_atomic_t stop;

static void on_alarm(int sig) {
  (void)sig;
  stop = 1;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
  volatile unsigned long* counter = malloc(sizeof *counter);
  CHECK(counter != NULL);
  *counter = 0;
  struct itimerval it = {{0, 0}, {0, 30000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  while (!stop) (*counter)++;
  printf("NONDET iterations %lu\n", *counter);
  printf("the loop was stopped by SIGALRM\n");
  test_success();
  return 0;
}
