/* One thread blocks in read() on a pipe while the main thread keeps
 * running syscalls; only later does the main thread write. A recorder must
 * not let the blocked task stall the others. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "util.h"

static int p[2];
static atomic_int reader_started, reader_done;
static char received[16];

static void* reader(void* arg) {
  (void)arg;
  atomic_store(&reader_started, 1);
  ssize_t n = read(p[0], received, sizeof received - 1); /* blocks */
  if (n == 5) atomic_store(&reader_done, 1);
  return NULL;
}

int main(void) {
  CHECK(pipe(p) == 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
  while (!atomic_load(&reader_started)) sched_yield();

  /* The main thread makes progress while the reader is blocked. */
  int work = 0;
  for (int i = 0; i < 200; i++) {
    CHECK(getpid() > 0);
    struct timespec d = {0, 50000};
    nanosleep(&d, NULL);
    work++;
  }
  CHECK(!atomic_load(&reader_done));
  printf("main thread ran %d iterations while the reader was blocked\n", work);

  write_all(p[1], "hello", 5);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(atomic_load(&reader_done) && strcmp(received, "hello") == 0);
  printf("reader received: %s\n", received);
  test_success();
  return 0;
}
