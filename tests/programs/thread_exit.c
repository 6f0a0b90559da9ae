/* Threads exit (pthread_exit) while others continue; finally the main thread
 * itself exits first and the last worker ends the process. */
#include <pthread.h>
#include <stdatomic.h>

#include "util.h"

enum { kWorkers = 4 };
static atomic_int alive = kWorkers, progress[kWorkers];
static pthread_t main_thread;

static void* worker(void* arg) {
  int id = (int)(long)arg;
  for (int step = 0; step < 20 * (id + 1); step++) {
    atomic_fetch_add(&progress[id], 1);
    CHECK(getpid() > 0);
    if (id == 0 && step == 5) {
      atomic_fetch_sub(&alive, 1);
      pthread_exit((void*)100L); /* exits from deep inside its loop */
    }
  }
  atomic_fetch_sub(&alive, 1);
  return (void*)(long)id;
}

static void* last_one(void* arg) {
  (void)arg;
  /* Waits for the main thread to be gone, then finishes the process. */
  CHECK(pthread_join(main_thread, NULL) == 0);
  printf("main thread exited first; last thread finishing\n");
  test_success();
  return NULL; /* the last thread returning exits the process with 0 */
}

int main(void) {
  pthread_t t[kWorkers];
  for (long i = 0; i < kWorkers; i++) CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0);
  void* ret;
  CHECK(pthread_join(t[0], &ret) == 0 && ret == (void*)100L);
  for (int i = 1; i < kWorkers; i++) {
    CHECK(pthread_join(t[i], &ret) == 0 && ret == (void*)(long)i);
    CHECK(atomic_load(&progress[i]) == 20 * (i + 1));
  }
  CHECK(atomic_load(&progress[0]) == 6 && atomic_load(&alive) == 0);
  printf("worker 0 exited early, others completed\n");

  main_thread = pthread_self();
  pthread_t last;
  CHECK(pthread_create(&last, NULL, last_one, NULL) == 0);
  fflush(stdout);
  pthread_exit(NULL);
}
