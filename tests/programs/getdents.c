/* A directory with files, listed with opendir/readdir (getdents64). */
#include <dirent.h>
#include <fcntl.h>

#include "util.h"

static int compare(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(void) {
  char dir[256], path[300];
  make_temp_dir(dir, sizeof dir);
  static const char* names[] = {"zeta", "alpha", "mid.txt", "beta", "subdir", "a-very-long-file-name-to-make-the-entry-bigger"};
  enum { kNames = sizeof names / sizeof names[0] };
  for (int i = 0; i < kNames; i++) {
    path_join(path, sizeof path, dir, names[i]);
    if (strcmp(names[i], "subdir") == 0) {
      CHECK(mkdir(path, 0700) == 0);
    } else {
      int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
      CHECK(fd >= 0 && close(fd) == 0);
    }
  }
  /* Enough extra files that getdents needs several calls. */
  for (int i = 0; i < 200; i++) {
    char name[32];
    snprintf(name, sizeof name, "extra-%03d", i);
    path_join(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && close(fd) == 0);
  }

  DIR* d = opendir(dir);
  CHECK(d != NULL);
  char* found[300];
  int n = 0, dirs = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    CHECK(n < 300);
    found[n++] = strdup(e->d_name);
    if (e->d_type == DT_DIR) dirs++;
  }
  CHECK(closedir(d) == 0);
  CHECK(n == kNames + 200);
  qsort(found, (size_t)n, sizeof found[0], compare);
  for (int i = 0; i < n; i++)
    if (strncmp(found[i], "extra-", 6) != 0) printf("entry: %s\n", found[i]);
  printf("entries: %d, directories: %d\n", n, dirs);

  for (int i = 0; i < n; i++) {
    path_join(path, sizeof path, dir, found[i]);
    if (strcmp(found[i], "subdir") == 0) {
      CHECK(rmdir(path) == 0);
    } else {
      CHECK(unlink(path) == 0);
    }
    free(found[i]);
  }
  CHECK(rmdir(dir) == 0);
  test_success();
  return 0;
}
