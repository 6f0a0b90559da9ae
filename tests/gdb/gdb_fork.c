/* For the gdb tests: a parent that forks a child; the child computes
 * something in its own function, which a debugger of the child (-p) sees. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int child_work(int seed) {
  int square = seed * seed;
  return square % 200;
}

int main(void) {
  pid_t pid = fork();
  if (pid == 0) {
    int r = child_work(7);
    printf("child %d\n", r);
    return r;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("parent saw %d\n", WEXITSTATUS(status));
  return 0;
}
