/* Asynchronous signals: setitimer SIGALRM interrupts a pause, and a thread
 * that spins without syscalls until a timer signal sets its flag. */
#include <signal.h>
#include <sys/time.h>

#include "util.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

  struct itimerval it = {{0, 0}, {0, 10000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  CHECK(pause() == -1 && errno == EINTR);
  CHECK(alarms == 1);
  printf("pause interrupted by SIGALRM\n");

  /* Spin with no syscalls; only the signal can end the loop. */
  it = (struct itimerval){{0, 0}, {0, 20000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  volatile unsigned long spins = 0;
  while (alarms < 2) spins++;
  printf("spinning loop interrupted by SIGALRM\n");

  /* A periodic timer, three ticks. */
  it = (struct itimerval){{0, 5000}, {0, 5000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  while (alarms < 5) pause();
  it = (struct itimerval){{0, 0}, {0, 0}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  printf("periodic timer ticked\n");
  test_success();
  return 0;
}
