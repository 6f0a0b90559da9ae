/* getcwd, chdir, fchdir, readlink of /proc/self/exe and /proc/self/cwd. */
#include <fcntl.h>
#include <limits.h>

#include "util.h"

int main(int argc, char** argv) {
  (void)argc;
  char exe[PATH_MAX] = {0};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  CHECK(n > 0 && exe[0] == '/');
  const char* base = strrchr(exe, '/') + 1;
  const char* arg0 = strrchr(argv[0], '/');
  CHECK(strcmp(base, arg0 ? arg0 + 1 : argv[0]) == 0);
  printf("/proc/self/exe basename: %s\n", base);

  char start[PATH_MAX];
  CHECK(getcwd(start, sizeof start) != NULL);
  int start_fd = open(".", O_RDONLY | O_DIRECTORY);
  CHECK(start_fd >= 0);

  char dir[256], real[PATH_MAX], cwd[PATH_MAX];
  make_temp_dir(dir, sizeof dir);
  CHECK(realpath(dir, real) != NULL);
  CHECK(chdir(dir) == 0);
  CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, real) == 0);
  char link[PATH_MAX] = {0};
  CHECK(readlink("/proc/self/cwd", link, sizeof link - 1) > 0 && strcmp(link, real) == 0);
  printf("chdir into temp dir: getcwd and /proc/self/cwd agree\n");

  CHECK(mkdir("inner", 0700) == 0 && chdir("inner") == 0);
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK(strncmp(cwd, real, strlen(real)) == 0 && strcmp(cwd + strlen(real), "/inner") == 0);
  CHECK(chdir("..") == 0 && rmdir("inner") == 0);

  char tiny[2];
  CHECK(getcwd(tiny, sizeof tiny) == NULL && errno == ERANGE);
  CHECK(symlink("target-name", "link") == 0);
  memset(link, 0, sizeof link);
  CHECK(readlink("link", link, sizeof link) == 11 && strcmp(link, "target-name") == 0);
  CHECK(unlink("link") == 0);

  CHECK(fchdir(start_fd) == 0);
  CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, start) == 0);
  CHECK(rmdir(dir) == 0);
  close(start_fd);
  printf("back in the start directory\n");
  test_success();
  return 0;
}
