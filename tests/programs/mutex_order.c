/* Four threads take one mutex in whatever order the scheduler gives them;
 * the order (as a hash) must come back in replay. */
#include <pthread.h>

#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long order_hash = 1469598103934665603ul;
static int turns;

static void* worker(void* arg) {
  long id = (long)arg;
  for (int i = 0; i < 50; i++) {
    pthread_mutex_lock(&lock);
    order_hash = (order_hash ^ (unsigned long)id) * 1099511628211ul;
    turns++;
    pthread_mutex_unlock(&lock);
    for (volatile int spin = 0; spin < 20000; spin++) {
    }
  }
  return NULL;
}

int main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0);
  for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL) == 0);
  CHECK(turns == 200);
  printf("NONDET order hash %lx\n", order_hash);
  printf("200 turns taken\n");
  test_success();
  return 0;
}
