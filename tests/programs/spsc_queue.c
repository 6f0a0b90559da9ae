/* A lock-free single-producer single-consumer ring: the consumer spins on
 * the producer's index without syscalls. */
#include <pthread.h>
#include <stdatomic.h>

#include "util.h"

#define SIZE 64
#define ITEMS 1000

static unsigned long ring[SIZE];
static atomic_ulong head, tail;

static void* producer(void* arg) {
  (void)arg;
  for (unsigned long i = 1; i <= ITEMS; i++) {
    while (atomic_load(&head) - atomic_load(&tail) == SIZE) {
    }
    ring[atomic_load(&head) % SIZE] = i;
    atomic_fetch_add(&head, 1);
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, producer, NULL) == 0);
  unsigned long sum = 0, spins = 0;
  for (unsigned long got = 0; got < ITEMS; got++) {
    while (atomic_load(&tail) == atomic_load(&head)) spins++;
    sum += ring[atomic_load(&tail) % SIZE];
    atomic_fetch_add(&tail, 1);
  }
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(sum == (unsigned long)ITEMS * (ITEMS + 1) / 2);
  printf("NONDET spins %lu\n", spins);
  printf("sum of %d items is right\n", ITEMS);
  test_success();
  return 0;
}
