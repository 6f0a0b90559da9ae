/* Eight threads, 100,000 mutex operations each, on one counter. */
#include <pthread.h>

#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < 100000; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(void) {
  pthread_t t[8];
  for (int i = 0; i < 8; i++) CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
  for (int i = 0; i < 8; i++) CHECK(pthread_join(t[i], NULL) == 0);
  CHECK(counter == 800000);
  printf("counter is 800000\n");
  test_success();
  return 0;
}
