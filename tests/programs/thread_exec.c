/* A thread other than the main one calls execve: the kernel ends every other
 * thread and the exec'ing thread takes over the process (and its pid). */
#include <pthread.h>

#include "util.h"

static char self_path[4096];

static void* exec_from_thread(void* arg) {
  (void)arg;
  char* const argv[] = {self_path, "child", NULL};
  execv(self_path, argv);
  return NULL; /* only on failure */
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    printf("exec'd from a thread, now single-threaded\n");
    test_success();
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  CHECK(n > 0);
  self_path[n] = 0;
  fflush(stdout);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, exec_from_thread, NULL) == 0);
  for (;;) pause(); /* the exec ends this thread */
}
