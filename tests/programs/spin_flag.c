/* The main thread spins on an atomic flag, without syscalls, until a worker
 * sets it after a sleep: the recorder must preempt the spinner so that the
 * worker gets to run at all. */
#include <pthread.h>
#include <stdatomic.h>

#include "util.h"

static atomic_int flag;

static void* worker(void* arg) {
  (void)arg;
  usleep(20000);
  atomic_store(&flag, 1);
  return NULL;
}

int main(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
  unsigned long spins = 0;
  while (!atomic_load_explicit(&flag, memory_order_relaxed)) spins++;
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(spins > 0);
  printf("NONDET spins %lu\n", spins);
  printf("worker set the flag\n");
  test_success();
  return 0;
}
