/* For the gdb tests: a main thread and three workers, each worker calling
 * work() with its own number while all four threads are alive. */
#include <pthread.h>
#include <stdio.h>

static pthread_barrier_t all_started, may_finish;
static int results[3];

int work(int id) {
  int value = id * 100;
  return value + 1;
}

static void* worker(void* arg) {
  int id = (int)(long)arg;
  pthread_barrier_wait(&all_started);
  results[id - 1] = work(id);
  pthread_barrier_wait(&may_finish);
  return NULL;
}

int main(void) {
  pthread_t threads[3];
  pthread_barrier_init(&all_started, NULL, 4);
  pthread_barrier_init(&may_finish, NULL, 4);
  for (long i = 0; i < 3; i++) pthread_create(&threads[i], NULL, worker, (void*)(i + 1));
  pthread_barrier_wait(&all_started);
  pthread_barrier_wait(&may_finish);
  for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
  printf("results %d %d %d\n", results[0], results[1], results[2]);
  return 0;
}
