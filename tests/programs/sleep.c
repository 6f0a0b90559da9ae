/* nanosleep and clock_nanosleep (relative and absolute) sleep at least as
 * long as asked. */
#include <time.h>

#include "util.h"

static long long now_ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
  long long start = now_ns(CLOCK_MONOTONIC);
  struct timespec req = {0, 20000000}, rem = {0, 0};
  CHECK(nanosleep(&req, &rem) == 0);
  CHECK(now_ns(CLOCK_MONOTONIC) - start >= 20000000);
  printf("nanosleep slept long enough\n");

  start = now_ns(CLOCK_MONOTONIC);
  req = (struct timespec){0, 15000000};
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
  CHECK(now_ns(CLOCK_MONOTONIC) - start >= 15000000);
  printf("clock_nanosleep relative slept long enough\n");

  long long target = now_ns(CLOCK_MONOTONIC) + 10000000;
  struct timespec abs = {target / 1000000000LL, target % 1000000000LL};
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0);
  CHECK(now_ns(CLOCK_MONOTONIC) >= target);
  printf("clock_nanosleep absolute reached its deadline\n");

  /* An absolute deadline in the past returns at once. */
  abs = (struct timespec){0, 1};
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0);
  req = (struct timespec){0, 5000000};
  CHECK(clock_nanosleep(CLOCK_REALTIME, 0, &req, NULL) == 0);
  req = (struct timespec){0, 2000000000};
  CHECK(nanosleep(&req, NULL) == -1 && errno == EINVAL);
  CHECK(usleep(1000) == 0);
  test_success();
  return 0;
}
