/* A thread that is preempted (its time slice is over, another thread is
 * ready) while the preload code copies a buffered syscall's output into the
 * buffer must be brought out of the preload code first
 * (recorder/syscallbuf.cc, step_out_of_preload). The main thread reads 256
 * KiB a call, the largest read that is buffered, while a second thread
 * keeps yielding (always ready to run, and cheap to replay), so that time
 * slices end inside such copies: stepping through
 * one took more steps than the recorder allowed ("does not leave the
 * preload code"); it now runs to a breakpoint. Every read is checked. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>

#include "util.h"

enum { kReadSize = 256 * 1024, kReads = 1500 };

static volatile int stop;

static void* yield_loop(void* arg) {
  (void)arg;
  while (!stop) sched_yield();
  return NULL;
}

int main(void) {
  char path[] = "/tmp/rrl-preempt-copy-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(unlink(path) == 0);
  static unsigned char data[kReadSize], got[kReadSize];
  for (int i = 0; i < kReadSize; i++) data[i] = (unsigned char)(i * 7 + i / 4096);
  CHECK(write(fd, data, kReadSize) == kReadSize);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, yield_loop, NULL) == 0);
  for (int i = 0; i < kReads; i++) {
    got[i % kReadSize] = 0;
    CHECK(pread(fd, got, kReadSize, 0) == kReadSize);
    if (i % 100 == 0) CHECK(memcmp(got, data, kReadSize) == 0);
  }
  stop = 1;
  CHECK(pthread_join(th, NULL) == 0);
  CHECK(memcmp(got, data, kReadSize) == 0);
  printf("%d reads of %d bytes checked\n", kReads, kReadSize);
  test_success();
  return 0;
}
