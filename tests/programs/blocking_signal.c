/* A signal comes for a task asleep in a buffered syscall. One thread only,
 * so nobody else waits and the recorder has no reason to take the syscall
 * back before the signal does: poll on an empty pipe (patched, buffered)
 * sleeps until a timer's SIGALRM; the handler does buffered syscalls itself
 * (a write into the same pipe, clock_gettime, sem_post), and the poll,
 * restarted, sees what the handler wrote. Then the same with a semaphore
 * wait (a futex) that the handler posts. The reads first (a read finds the
 * pipe empty without waiting, and waits through ptrace). */
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

static int p[2];
static volatile int alarms;
static sem_t sem;

static void on_alarm(int sig) {
  (void)sig;
  struct timespec ts;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
  char c = (char)('a' + alarms);
  CHECK(write(p[1], &c, 1) == 1);
  CHECK(sem_post(&sem) == 0);
  alarms++;
}

static void arm(void) {
  struct itimerval it = {{0, 0}, {0, 20000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

int main(void) {
  CHECK(pipe(p) == 0);
  CHECK(sem_init(&sem, 0, 0) == 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
  char got[8] = {0};
  /* A few rounds: the first ones patch the sites, later ones are buffered. */
  for (int i = 0; i < 4; ++i) {
    arm();
    CHECK(read(p[0], &got[i], 1) == 1);
  }
  CHECK(memcmp(got, "abcd", 4) == 0);
  /* The semaphore counted those alarms: take them, without blocking. */
  for (int i = 0; i < 4; ++i) CHECK(sem_trywait(&sem) == 0);
  for (int i = 0; i < 3; ++i) {
    arm();
    struct pollfd pfd = {p[0], POLLIN, 0};
    int n;
    do n = poll(&pfd, 1, 5000); while (n < 0 && errno == EINTR);
    CHECK(n == 1 && (pfd.revents & POLLIN));
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == (char)('e' + i));
    CHECK(sem_trywait(&sem) == 0);
  }
  for (int i = 0; i < 3; ++i) {
    arm();
    int r;
    do r = sem_wait(&sem); while (r != 0 && errno == EINTR); /* never restarted */
    CHECK(r == 0);
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == (char)('h' + i));
  }
  printf("%d alarms interrupted blocked reads, polls and futex waits\n", alarms);
  test_success();
  return 0;
}
