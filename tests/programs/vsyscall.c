/* Calls into the legacy vsyscall page (0xffffffffff600000), which the kernel
 * still emulates: time, gettimeofday and getcpu there must agree with the
 * ordinary calls. Old static binaries use it; rr-like must record and replay
 * these calls like syscalls. */
#include <sys/time.h>
#include <time.h>

#include "util.h"

typedef time_t (*vtime_fn)(time_t*);
typedef int (*vgettimeofday_fn)(struct timeval*, struct timezone*);
typedef long (*vgetcpu_fn)(unsigned*, unsigned*, void*);

int main(void) {
  vgettimeofday_fn vgettimeofday = (vgettimeofday_fn)0xffffffffff600000UL;
  vtime_fn vtime = (vtime_fn)0xffffffffff600400UL;
  vgetcpu_fn vgetcpu = (vgetcpu_fn)0xffffffffff600800UL;

  time_t before = time(NULL);
  time_t stored = 0;
  time_t t = vtime(&stored);
  CHECK(t == stored);
  CHECK(t >= before && t <= before + 5);
  printf("vsyscall time agrees with time()\n");

  struct timeval tv = {0, 0};
  CHECK(vgettimeofday(&tv, NULL) == 0);
  CHECK(tv.tv_sec >= before && tv.tv_sec <= before + 5 && tv.tv_usec < 1000000);
  printf("vsyscall gettimeofday agrees\n");

  unsigned cpu = 12345;
  CHECK(vgetcpu(&cpu, NULL, NULL) == 0);
  CHECK(cpu < 4096);
  printf("vsyscall getcpu answered\n");
  test_success();
  return 0;
}
