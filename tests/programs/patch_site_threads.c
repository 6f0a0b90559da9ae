/* Regressions (issue 5, b and d): threads hammer the same syscall sites
 * (libc's pread and write, the vdso's clock_gettime) while they get patched,
 * and one more thread sits blocked in read on a pipe, at the same libc read
 * site, while the others use it: a site's patch must never land under a task
 * inside its region. Every result is checked; record and replays must agree. */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>

#include "util.h"

enum { kThreads = 2, kIters = 3000 };

static int file_fd;
static int pipe_fds[2];
static long ok_counts[kThreads];

static void* hammer(void* arg) {
  long id = (long)arg;
  char buf[8];
  struct timespec ts;
  for (int i = 0; i < kIters; ++i) {
    if (pread(file_fd, buf, 4, i % 6) == 4 && buf[0] == "abcdefghij"[i % 6]) ok_counts[id]++;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) ok_counts[id]++;
    if (read(file_fd, buf, 0) == 0) ok_counts[id]++;
  }
  return NULL;
}

static void* blocked_reader(void* arg) {
  (void)arg;
  char c = 0;
  ssize_t n = read(pipe_fds[0], &c, 1); /* blocks until main writes */
  return (void*)(long)(n == 1 && c == 'z');
}

int main(void) {
  char path[4096];
  const char* tmpdir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/rrl-site-threads-XXXXXX", tmpdir ? tmpdir : "/tmp");
  file_fd = mkstemp(path);
  CHECK(file_fd >= 0);
  CHECK(write(file_fd, "abcdefghij", 10) == 10);
  CHECK(pipe(pipe_fds) == 0);
  pthread_t reader;
  CHECK(pthread_create(&reader, NULL, blocked_reader, NULL) == 0);
  usleep(10000);
  pthread_t t[kThreads];
  for (long i = 0; i < kThreads; ++i) CHECK(pthread_create(&t[i], NULL, hammer, (void*)i) == 0);
  for (int i = 0; i < kThreads; ++i) CHECK(pthread_join(t[i], NULL) == 0);
  CHECK(write(pipe_fds[1], "z", 1) == 1);
  void* reader_ok = NULL;
  CHECK(pthread_join(reader, &reader_ok) == 0);
  CHECK(reader_ok == (void*)1L);
  for (int i = 0; i < kThreads; ++i) CHECK(ok_counts[i] == 3L * kIters);
  unlink(path);
  printf("%d threads x %d iterations checked\n", kThreads, kIters);
  test_success();
  return 0;
}
