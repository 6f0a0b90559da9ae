/* A writer child streams 1 MB through a pipe to a reader child, which sends
 * its checksum back to the parent through a second pipe. */
#include <sys/wait.h>

#include "util.h"

enum { kBytes = 1 << 20, kChunk = 3000 };

static unsigned char byte_at(size_t i) { return (unsigned char)((i * 31 + (i >> 8)) & 0xff); }

int main(void) {
  int data[2], result[2];
  CHECK(pipe(data) == 0 && pipe(result) == 0);
  fflush(stdout);
  pid_t writer = fork();
  CHECK(writer >= 0);
  if (writer == 0) {
    close(data[0]);
    close(result[0]);
    close(result[1]);
    static unsigned char chunk[kChunk];
    for (size_t off = 0; off < kBytes; off += kChunk) {
      size_t n = kBytes - off < kChunk ? kBytes - off : kChunk;
      for (size_t i = 0; i < n; i++) chunk[i] = byte_at(off + i);
      write_all(data[1], chunk, n);
    }
    _exit(0);
  }
  pid_t reader = fork();
  CHECK(reader >= 0);
  if (reader == 0) {
    close(data[1]);
    close(result[0]);
    static unsigned char buf[65536];
    unsigned long h = FNV_INIT;
    size_t total = 0;
    ssize_t n;
    while ((n = read(data[0], buf, sizeof buf)) > 0) {
      h = fnv1a(buf, (size_t)n, h);
      total += (size_t)n;
    }
    CHILD_CHECK(n == 0 && total == kBytes);
    CHILD_CHECK(write(result[1], &h, sizeof h) == sizeof h);
    _exit(0);
  }
  close(data[0]);
  close(data[1]);
  close(result[1]);
  unsigned long from_reader = 0;
  CHECK(read_full(result[0], &from_reader, sizeof from_reader) == sizeof from_reader);
  unsigned long expected = FNV_INIT;
  for (size_t i = 0; i < kBytes; i++) {
    unsigned char b = byte_at(i);
    expected = fnv1a(&b, 1, expected);
  }
  CHECK(from_reader == expected);
  int status;
  CHECK(waitpid(writer, &status, 0) == writer && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(waitpid(reader, &status, 0) == reader && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("pipeline checksum %016lx matches\n", expected);
  test_success();
  return 0;
}
