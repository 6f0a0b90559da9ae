/* Two producers and two consumers share a bounded queue protected by a
 * mutex and two condition variables. */
#include <pthread.h>

#include "util.h"

enum { kCapacity = 8, kPerProducer = 2000, kProducers = 2, kConsumers = 2 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static int queue[kCapacity];
static int head, count, producers_left = kProducers;
static long consumed_sum[kConsumers];
static int consumed_count[kConsumers];

static void* producer(void* arg) {
  int base = (int)(long)arg * kPerProducer;
  for (int i = 1; i <= kPerProducer; i++) {
    pthread_mutex_lock(&lock);
    while (count == kCapacity) pthread_cond_wait(&not_full, &lock);
    queue[(head + count) % kCapacity] = base + i;
    count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
  }
  pthread_mutex_lock(&lock);
  producers_left--;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void* consumer(void* arg) {
  int id = (int)(long)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (count == 0 && producers_left > 0) pthread_cond_wait(&not_empty, &lock);
    if (count == 0) {
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    int v = queue[head];
    head = (head + 1) % kCapacity;
    count--;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    consumed_sum[id] += v;
    consumed_count[id]++;
  }
}

int main(void) {
  pthread_t threads[kProducers + kConsumers];
  for (long i = 0; i < kConsumers; i++)
    CHECK(pthread_create(&threads[i], NULL, consumer, (void*)i) == 0);
  for (long i = 0; i < kProducers; i++)
    CHECK(pthread_create(&threads[kConsumers + i], NULL, producer, (void*)i) == 0);
  for (int i = 0; i < kProducers + kConsumers; i++) CHECK(pthread_join(threads[i], NULL) == 0);

  long n = (long)kProducers * kPerProducer;
  long sum = 0, items = 0;
  for (int i = 0; i < kConsumers; i++) {
    sum += consumed_sum[i];
    items += consumed_count[i];
  }
  CHECK(items == n);
  CHECK(sum == n * (n + 1) / 2);
  printf("consumed %ld items, sum %ld\n", items, sum);
  test_success();
  return 0;
}
