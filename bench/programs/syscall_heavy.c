// Benchmark workload: many small syscalls that syscall buffering covers.
// usage: syscall_heavy DIR [CALLS]: CALLS (default 200000) calls in turn of
// pread (16 bytes of a file in DIR), write (16 bytes to another file in DIR)
// and clock_gettime.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: syscall_heavy DIR [CALLS]\n");
    return 2;
  }
  long calls = argc > 2 ? atol(argv[2]) : 200000;
  char in_path[4096], out_path[4096];
  snprintf(in_path, sizeof in_path, "%s/heavy.in", argv[1]);
  snprintf(out_path, sizeof out_path, "%s/heavy.out", argv[1]);
  int in = open(in_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) return 1;
  char block[4096];
  memset(block, 'x', sizeof block);
  if (write(in, block, sizeof block) != sizeof block) return 1;
  char buf[16];
  struct timespec ts;
  long sum = 0;
  for (long i = 0; i < calls; ++i) {
    switch (i % 3) {
      case 0:
        sum += pread(in, buf, sizeof buf, (i * 16) % 4000);
        break;
      case 1:
        sum += write(out, buf, sizeof buf);
        break;
      default:
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sum += ts.tv_nsec & 1;
    }
  }
  printf("%ld\n", sum > 0 ? 1L : 0L);
  close(in);
  close(out);
  unlink(in_path);
  unlink(out_path);
  return 0;
}
