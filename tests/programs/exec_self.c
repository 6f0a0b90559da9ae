/* execve: the program re-executes itself with an argument, and a forked
 * child execs /bin/echo. */
#include <sys/wait.h>

#include "util.h"

extern char** environ;

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--second-stage") == 0) {
    printf("second stage running\n");
    test_success();
    return 0;
  }
  CHECK(argc == 1);
  printf("first stage running\n");

  /* A child runs /bin/echo; its output lands between ours. */
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    char* args[] = {"/bin/echo", "echo from child", NULL};
    execve(args[0], args, environ);
    _exit(99);
  }
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* exec of a missing file fails and returns. */
  char* bad[] = {"/nonexistent/program", NULL};
  CHECK(execve(bad[0], bad, environ) == -1 && errno == ENOENT);

  fflush(stdout);
  char* args[] = {argv[0], "--second-stage", NULL};
  execve("/proc/self/exe", args, environ);
  CHECK(!"execve returned");
  return 1;
}
