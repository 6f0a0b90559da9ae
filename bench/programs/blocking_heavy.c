/* Workloads whose syscalls may block (bench/blocking_overhead.sh):
 *   pipe_pingpong N   two threads pass a byte back and forth through two
 *                     pipes N times (every read blocks until the other runs);
 *   pipe_stream N     one thread writes N 64-byte messages into a pipe, the
 *                     other reads them (reads mostly find data waiting);
 *   condvar N         two threads take turns N times under a mutex and a
 *                     condition variable (futex wait and wake);
 *   mutex N           four threads, N lock/unlock pairs each on one mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long n;
static int ab[2], ba[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn, counter;

static void* pong(void* arg) {
  (void)arg;
  char c;
  for (long i = 0; i < n; ++i)
    if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1) exit(1);
  return NULL;
}

static void* stream_reader(void* arg) {
  (void)arg;
  char buf[64];
  long got = 0;
  while (got < n * 64) {
    ssize_t r = read(ab[0], buf, sizeof buf);
    if (r <= 0) exit(1);
    got += r;
  }
  return NULL;
}

static void* taker(void* arg) {
  long me = (long)arg;
  for (long i = 0; i < n; ++i) {
    pthread_mutex_lock(&mu);
    while (turn % 2 != me) pthread_cond_wait(&cv, &mu);
    turn++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

static void* locker(void* arg) {
  (void)arg;
  for (long i = 0; i < n; ++i) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  n = atol(argv[2]);
  if (pipe(ab) != 0 || pipe(ba) != 0) return 1;
  pthread_t t[4];
  if (!strcmp(argv[1], "pipe_pingpong")) {
    pthread_create(&t[0], NULL, pong, NULL);
    char c = 'x';
    for (long i = 0; i < n; ++i)
      if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) return 1;
    pthread_join(t[0], NULL);
  } else if (!strcmp(argv[1], "pipe_stream")) {
    pthread_create(&t[0], NULL, stream_reader, NULL);
    char buf[64] = {0};
    for (long i = 0; i < n; ++i)
      if (write(ab[1], buf, sizeof buf) != (ssize_t)sizeof buf) return 1;
    pthread_join(t[0], NULL);
  } else if (!strcmp(argv[1], "condvar")) {
    for (long i = 0; i < 2; ++i) pthread_create(&t[i], NULL, taker, (void*)i);
    for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
  } else if (!strcmp(argv[1], "mutex")) {
    for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, locker, NULL);
    for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
    if (counter != 4 * n) return 1;
  } else {
    return 2;
  }
  return 0;
}
