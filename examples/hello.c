// The bundled example: a program whose output depends on things that differ
// from run to run (time, randomness, the process id), which is what rr-like
// records.
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned int r = 0;
  if (getrandom(&r, sizeof r, 0) != sizeof r) return 1;
  printf("hello from pid %d (%s)\n", getpid(), argc > 1 ? argv[1] : "no args");
  printf("the time is %lld.%09ld, a random number is %u\n", (long long)ts.tv_sec, ts.tv_nsec, r);
  return 0;
}
