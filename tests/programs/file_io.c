/* File I/O on a temporary file: write/read/lseek/pread/pwrite/readv/writev,
 * fstat and statx. */
#include <fcntl.h>
#include <sys/uio.h>

#include "util.h"

int main(void) {
  char dir[256], path[300];
  make_temp_dir(dir, sizeof dir);
  path_join(path, sizeof path, dir, "data");

  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  write_all(fd, "hello, world\n", 13);

  char buf[64] = {0};
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  CHECK(read(fd, buf, sizeof buf) == 13);
  CHECK(memcmp(buf, "hello, world\n", 13) == 0);
  CHECK(read(fd, buf, sizeof buf) == 0);

  CHECK(pwrite(fd, "WORLD", 5, 7) == 5);
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd, buf, 5, 7) == 5);
  CHECK(memcmp(buf, "WORLD", 5) == 0);
  CHECK(lseek(fd, 0, SEEK_CUR) == 13); /* pread/pwrite keep the offset */

  char a[] = "abc", b[] = "defgh";
  struct iovec out[2] = {{a, 3}, {b, 5}};
  CHECK(lseek(fd, 0, SEEK_END) == 13);
  CHECK(writev(fd, out, 2) == 8);

  char x[10] = {0}, y[11] = {0};
  struct iovec in[2] = {{x, 10}, {y, 11}};
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  CHECK(readv(fd, in, 2) == 21);
  CHECK(memcmp(x, "hello, WOR", 10) == 0);
  CHECK(memcmp(y, "LD\nabcdefgh", 11) == 0);

  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  CHECK(st.st_size == 21);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  struct statx stx;
  CHECK(statx(AT_FDCWD, path, 0, STATX_SIZE | STATX_MODE, &stx) == 0);
  CHECK(stx.stx_size == 21);
  CHECK((stx.stx_mode & 0777) == 0600);
  CHECK(stx.stx_ino == st.st_ino);

  CHECK(ftruncate(fd, 4) == 0);
  CHECK(fstat(fd, &st) == 0 && st.st_size == 4);
  CHECK(close(fd) == 0);

  fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  memset(buf, 0, sizeof buf);
  CHECK(read(fd, buf, sizeof buf) == 4);
  printf("contents after truncate: %s\n", buf);
  CHECK(close(fd) == 0);

  CHECK(unlink(path) == 0);
  CHECK(access(path, F_OK) == -1 && errno == ENOENT);
  CHECK(rmdir(dir) == 0);
  test_success();
  return 0;
}
