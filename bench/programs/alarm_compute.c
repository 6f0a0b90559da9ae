// Benchmark workload: a tight loop without syscalls, stopped by SIGALRM from
// setitimer after MS milliseconds (default 300); prints its iteration count.
// The loop keeps its count in a register, so recording interrupts it at an
// arbitrary point, which replay must find again.
// usage: alarm_compute [MS]
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t stop;

static void on_alarm(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char** argv) {
  long ms = argc > 1 ? atol(argv[1]) : 300;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  if (sigaction(SIGALRM, &sa, NULL) != 0) return 1;
  struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0) return 1;
  unsigned long n = 0, x = 1;
  while (!stop) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    n++;
  }
  printf("iterations %lu, value %lx\n", n, x);
  return 0;
}
