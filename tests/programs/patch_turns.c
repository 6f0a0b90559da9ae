/* Two threads take turns at one syscall site whose patch region begins
 * before the syscall (the vdso's clock_gettime: mov eax, 228; syscall), so
 * its patch is deferred until no thread is inside the region. Until the
 * patch lands, each call stops in the recorder; at each thread's syscall
 * exit the other one is in the kernel at the site, so a patch tried only at
 * exits would wait for as long as they both go on. The recorder also tries
 * it at a syscall entry there, where the other thread has returned: the
 * patch lands within a few calls. check_patch_dump.py (case turns) checks
 * that nearly all calls were buffered. */
#include <pthread.h>
#include <time.h>

#include "util.h"

enum { kCalls = 2000 };
static pthread_barrier_t start;

static void* worker(void* arg) {
  (void)arg;
  struct timespec before, now;
  pthread_barrier_wait(&start);
  CHECK(clock_gettime(CLOCK_MONOTONIC, &before) == 0);
  for (int i = 0; i < kCalls; i++) {
    CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    CHECK(now.tv_sec > before.tv_sec ||
          (now.tv_sec == before.tv_sec && now.tv_nsec >= before.tv_nsec));
    before = now;
  }
  return NULL;
}

int main(void) {
  pthread_t t[2];
  CHECK(pthread_barrier_init(&start, NULL, 2) == 0);
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
  for (int i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0);
  printf("2 threads made %d monotonic clock calls each\n", kCalls);
  test_success();
  return 0;
}
