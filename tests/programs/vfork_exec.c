/* vfork + exec, and vfork + _exit; the parent is suspended meanwhile. */
#include <sys/wait.h>

#include "util.h"

extern char** environ;

static void vfork_echo(void) {
  fflush(stdout);
  pid_t child = vfork();
  CHECK(child >= 0);
  if (child == 0) {
    char* args[] = {"/bin/echo", "vforked echo", NULL};
    execve(args[0], args, environ);
    _exit(99);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  for (int i = 0; i < 3; i++) vfork_echo();

  volatile int shared = 0;
  pid_t child = vfork();
  CHECK(child >= 0);
  if (child == 0) {
    shared = 5; /* visible to the parent: same memory until _exit */
    _exit(3);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  CHECK(shared == 5);
  printf("vfork child wrote parent memory: yes\n");
  test_success();
  return 0;
}
