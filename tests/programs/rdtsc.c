/* rdtsc and rdtscp return increasing values. */
#include <x86intrin.h>

#include "util.h"

int main(void) {
  unsigned long long prev = __rdtsc();
  int increasing = 1;
  for (int i = 0; i < 100; i++) {
    unsigned long long now = __rdtsc();
    if (now <= prev) increasing = 0;
    prev = now;
  }
  printf("rdtsc increasing: %s\n", increasing ? "yes" : "no");
  CHECK(increasing);

  unsigned int aux = 0;
  prev = __rdtscp(&aux);
  increasing = 1;
  for (int i = 0; i < 100; i++) {
    unsigned long long now = __rdtscp(&aux);
    if (now <= prev) increasing = 0;
    prev = now;
  }
  printf("rdtscp increasing: %s\n", increasing ? "yes" : "no");
  CHECK(increasing);

  /* Across a syscall-heavy stretch too. */
  unsigned long long before = __rdtsc();
  for (int i = 0; i < 10; i++) CHECK(getppid() > 0);
  usleep(1000);
  CHECK(__rdtsc() > before);
  test_success();
  return 0;
}
