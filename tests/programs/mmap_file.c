/* mmap of a file: MAP_SHARED writes reach the file, MAP_PRIVATE writes do
 * not; read-only mapping; anonymous shared memory across fork. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "util.h"

enum { kSize = 3 * 4096 + 100 };

int main(void) {
  char dir[256], path[300];
  make_temp_dir(dir, sizeof dir);
  path_join(path, sizeof path, dir, "mapped");
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  static char data[kSize];
  for (int i = 0; i < kSize; i++) data[i] = (char)('a' + i % 26);
  write_all(fd, data, kSize);

  const char* ro = mmap(NULL, kSize, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(ro != MAP_FAILED);
  CHECK(memcmp(ro, data, kSize) == 0);

  char* shared = mmap(NULL, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(shared != MAP_FAILED);
  memcpy(shared + 4096, "SHARED", 6);
  CHECK(msync(shared, kSize, MS_SYNC) == 0);
  char buf[8] = {0};
  CHECK(pread(fd, buf, 6, 4096) == 6 && memcmp(buf, "SHARED", 6) == 0);
  CHECK(memcmp(ro + 4096, "SHARED", 6) == 0); /* clean private pages follow the file */
  printf("MAP_SHARED write reached the file\n");

  char* priv = mmap(NULL, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(priv != MAP_FAILED);
  memcpy(priv + 8192, "PRIVATE", 7);
  CHECK(pread(fd, buf, 7, 8192) == 7 && memcmp(buf, data + 8192, 7) == 0);
  CHECK(memcmp(shared + 8192, data + 8192, 7) == 0);
  printf("MAP_PRIVATE write stayed private\n");

  /* write() to the file shows up in the shared mapping. */
  CHECK(pwrite(fd, "FILE", 4, 100) == 4);
  CHECK(memcmp(shared + 100, "FILE", 4) == 0);

  /* Offset mapping of the last partial page. */
  const char* tail = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 3 * 4096);
  CHECK(tail != MAP_FAILED);
  CHECK(memcmp(tail, data + 3 * 4096, 100) == 0 && tail[100] == 0);

  CHECK(munmap((void*)ro, kSize) == 0 && munmap(shared, kSize) == 0);
  CHECK(munmap(priv, kSize) == 0 && munmap((void*)tail, 4096) == 0);
  CHECK(close(fd) == 0 && unlink(path) == 0 && rmdir(dir) == 0);

  int* anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(anon != MAP_FAILED);
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    anon[0] = 4242;
    _exit(0);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(anon[0] == 4242);
  printf("anonymous shared memory seen across fork\n");
  test_success();
  return 0;
}
