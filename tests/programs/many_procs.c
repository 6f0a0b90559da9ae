/* 8 children, each forks a grandchild; every process is waited for and
 * reports through its exit status. */
#include <sys/wait.h>

#include "util.h"

enum { kChildren = 8 };

static void child_main(int i) {
  pid_t grandchild = fork();
  CHILD_CHECK(grandchild >= 0);
  if (grandchild == 0) {
    volatile unsigned long x = 0;
    for (int k = 0; k < 10000 * (i + 1); k++) x += (unsigned long)k;
    usleep(1000 * (unsigned)(kChildren - i));
    _exit(20 + i);
  }
  int status;
  CHILD_CHECK(waitpid(grandchild, &status, 0) == grandchild);
  CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 20 + i);
  _exit(i + 1);
}

int main(void) {
  pid_t pids[kChildren];
  fflush(stdout);
  for (int i = 0; i < kChildren; i++) {
    pids[i] = fork();
    CHECK(pids[i] >= 0);
    if (pids[i] == 0) child_main(i);
  }
  /* Reap in completion order, then match. */
  int seen = 0;
  for (int n = 0; n < kChildren; n++) {
    int status;
    pid_t pid = wait(&status);
    CHECK(pid > 0);
    int index = -1;
    for (int i = 0; i < kChildren; i++)
      if (pids[i] == pid) index = i;
    CHECK(index >= 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == index + 1);
    seen |= 1 << index;
  }
  CHECK(seen == (1 << kChildren) - 1);
  CHECK(wait(NULL) == -1 && errno == ECHILD);
  printf("all %d children and %d grandchildren exited correctly\n", kChildren, kChildren);
  test_success();
  return 0;
}
