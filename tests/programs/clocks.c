/* Every clock moves forward; time() and gettimeofday agree with
 * CLOCK_REALTIME. */
#include <sys/time.h>
#include <time.h>

#include "util.h"

static long long read_ns(clockid_t clock) {
  struct timespec ts;
  CHECK(clock_gettime(clock, &ts) == 0);
  CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static volatile unsigned long sink;

int main(void) {
  static const struct {
    clockid_t id;
    const char* name;
  } clocks[] = {
      {CLOCK_REALTIME, "REALTIME"},
      {CLOCK_MONOTONIC, "MONOTONIC"},
      {CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
      {CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"},
      {CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"},
      {CLOCK_BOOTTIME, "BOOTTIME"},
      {CLOCK_REALTIME_COARSE, "REALTIME_COARSE"},
      {CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"},
      {CLOCK_TAI, "TAI"},
  };
  for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
    long long prev = read_ns(clocks[i].id);
    int ok = 1;
    for (int j = 0; j < 50; j++) {
      for (int k = 0; k < 2000; k++) sink += (unsigned long)k; /* burn a little CPU */
      long long now = read_ns(clocks[i].id);
      if (now < prev) ok = 0;
      prev = now;
    }
    struct timespec res;
    CHECK(clock_getres(clocks[i].id, &res) == 0);
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0);
    /* Wall clocks may be stepped backwards by NTP; the others never go back. */
    CHECK(ok || clocks[i].id == CLOCK_REALTIME || clocks[i].id == CLOCK_REALTIME_COARSE ||
          clocks[i].id == CLOCK_TAI);
    printf("%s: ok\n", clocks[i].name);
  }
  /* Strictly increasing over a real sleep. */
  long long m0 = read_ns(CLOCK_MONOTONIC), b0 = read_ns(CLOCK_BOOTTIME);
  usleep(5000);
  CHECK(read_ns(CLOCK_MONOTONIC) > m0 && read_ns(CLOCK_BOOTTIME) > b0);
  long long mono = read_ns(CLOCK_MONOTONIC);
  CHECK(read_ns(CLOCK_BOOTTIME) >= mono);

  time_t t1 = time(NULL);
  time_t t2;
  CHECK(time(&t2) >= t1);
  long long rt = read_ns(CLOCK_REALTIME);
  struct timeval tv;
  CHECK(gettimeofday(&tv, NULL) == 0);
  long long gtod = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  CHECK(t1 > 1600000000); /* after 2020 */
  CHECK(rt / 1000000000LL - t1 <= 2 && rt / 1000000000LL - t1 >= 0);
  CHECK(gtod - rt >= -1000000000LL && gtod - rt <= 2000000000LL);
  printf("time, gettimeofday and CLOCK_REALTIME agree\n");
  test_success();
  return 0;
}
