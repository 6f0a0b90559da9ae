/* A compute loop without syscalls, stopped by SIGALRM from setitimer; the
 * iteration count lives in a register. Its value must come back in replay. */
#include <signal.h>
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
  struct itimerval it = {{0, 0}, {0, 30000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  unsigned long n = 0, x = 1;
  while (!stop) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    n++;
  }
  printf("NONDET iterations %lu, value %lx\n", n, x);
  printf("the loop was stopped by SIGALRM\n");
  test_success();
  return 0;
}
