/* A non-main thread ends the whole process with exit_group while the main
 * thread and another thread are blocked. */
#include <pthread.h>
#include <sys/syscall.h>

#include "util.h"

static int never[2];

static void* blocked(void* arg) {
  (void)arg;
  char c;
  if (read(never[0], &c, 1) >= 0) printf("FAIL: read returned\n");
  return NULL;
}

static void* finisher(void* arg) {
  (void)arg;
  usleep(10000);
  printf("exiting the process from a non-main thread\n");
  test_success();
  syscall(SYS_exit_group, 0);
  return NULL;
}

int main(void) {
  CHECK(pipe(never) == 0);
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, blocked, NULL) == 0);
  CHECK(pthread_create(&b, NULL, finisher, NULL) == 0);
  pthread_join(a, NULL); /* never returns */
  printf("FAIL: main thread continued\n");
  return 1;
}
