/* pthread_kill delivers a signal to one chosen thread. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "util.h"

static atomic_int handled_by, target_tid, stop;

static void on_usr1(int sig) {
  (void)sig;
  atomic_store(&handled_by, (int)syscall(SYS_gettid));
}

static void* target(void* arg) {
  (void)arg;
  atomic_store(&target_tid, (int)syscall(SYS_gettid));
  while (!atomic_load(&stop)) usleep(1000);
  return NULL;
}

static void* spinner(void* arg) {
  (void)arg;
  /* A thread without syscalls in its loop must not receive the signal. */
  volatile unsigned long x = 0;
  while (!atomic_load(&stop)) x++;
  return NULL;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  pthread_t t, s;
  CHECK(pthread_create(&t, NULL, target, NULL) == 0);
  CHECK(pthread_create(&s, NULL, spinner, NULL) == 0);
  while (!atomic_load(&target_tid)) usleep(100);

  CHECK(pthread_kill(t, SIGUSR1) == 0);
  while (!atomic_load(&handled_by)) usleep(100);
  CHECK(atomic_load(&handled_by) == atomic_load(&target_tid));
  printf("signal handled by the target thread\n");

  CHECK(pthread_kill(t, 0) == 0); /* thread still exists */
  atomic_store(&stop, 1);
  CHECK(pthread_join(t, NULL) == 0 && pthread_join(s, NULL) == 0);
  test_success();
  return 0;
}
