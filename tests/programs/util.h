/* Shared helpers for the self-checking test programs.
 *
 * Every program checks its own results with CHECK and prints "EXIT-SUCCESS"
 * last. Stdout must be identical between a native and a recorded (or
 * replayed) run, so programs print only deterministic text: never times,
 * pids, addresses or random values, only the results of checks on them.
 * Failures print "FAIL: file:line: condition" and exit 1.
 */
#ifndef RR_LIKE_TEST_UTIL_H
#define RR_LIKE_TEST_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void test_fail(const char* file, int line, const char* what) {
  int saved = errno;
  fflush(stdout);
  printf("FAIL: %s:%d: %s (errno %d: %s)\n", file, line, what, saved, strerror(saved));
  fflush(stdout);
  _exit(1);
}

#define CHECK(cond)                                      \
  do {                                                   \
    if (!(cond)) test_fail(__FILE__, __LINE__, #cond);   \
  } while (0)

/* A child process reports failure through its exit status, never stdout. */
#define CHILD_CHECK(cond) \
  do {                    \
    if (!(cond)) _exit(99); \
  } while (0)

static inline void test_success(void) {
  puts("EXIT-SUCCESS");
  fflush(stdout);
}

/* Creates a fresh temporary directory; writes its path into buf. */
static inline void make_temp_dir(char* buf, size_t size) {
  const char* base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0') base = "/tmp";
  CHECK(snprintf(buf, size, "%s/rrl-test-XXXXXX", base) < (int)size);
  CHECK(mkdtemp(buf) != NULL);
}

/* Joins dir and name into buf. */
static inline void path_join(char* buf, size_t size, const char* dir, const char* name) {
  CHECK(snprintf(buf, size, "%s/%s", dir, name) < (int)size);
}

/* Reads or writes exactly len bytes, retrying short transfers. */
static inline void write_all(int fd, const void* data, size_t len) {
  const char* p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n > 0);
    p += n;
    len -= (size_t)n;
  }
}

static inline size_t read_full(int fd, void* data, size_t len) {
  char* p = data;
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, p + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n >= 0);
    if (n == 0) break;
    got += (size_t)n;
  }
  return got;
}

static inline unsigned long fnv1a(const void* data, size_t len, unsigned long h) {
  const unsigned char* p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211UL;
  }
  return h;
}
#define FNV_INIT 14695981039346656037UL

#endif
