/* Regression (issue 5, b): a second thread is blocked inside a site's patch
 * region when the patch is to be written: the patch waits, then applies
 * when that thread leaves. Two readers wait for two write-locked rwlocks in
 * glibc's non-cancellable futex wait (a site whose patch region begins
 * before the syscall, so its patch is deferred to a syscall exit). The first
 * reader's wait asks for the patch; it is released first, and at its exit
 * the second reader still sleeps inside the region: the patch must wait
 * until the second one is released too. tests/scripts/syscallbuf_dump.sh
 * checks in the dump that the patch was deferred, refused at least once,
 * and written at another task's syscall exit. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "util.h"

static pthread_rwlock_t locks[2] = {PTHREAD_RWLOCK_INITIALIZER, PTHREAD_RWLOCK_INITIALIZER};
static volatile pid_t tids[2];
static volatile int done[2];

static void* reader(void* arg) {
  long i = (long)arg;
  tids[i] = (pid_t)syscall(SYS_gettid);
  CHECK(pthread_rwlock_rdlock(&locks[i]) == 0); /* sleeps in futex */
  CHECK(pthread_rwlock_unlock(&locks[i]) == 0);
  __atomic_store_n(&done[i], 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static int in_futex(pid_t tid) {
  char path[64], buf[128] = {0};
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "202 ", 4) == 0;
}

int main(void) {
  pthread_t t[2];
  for (long i = 0; i < 2; ++i) CHECK(pthread_rwlock_wrlock(&locks[i]) == 0);
  /* The first reader asks for the patch; the second one then waits inside. */
  for (long i = 0; i < 2; ++i) {
    CHECK(pthread_create(&t[i], NULL, reader, (void*)i) == 0);
    while (tids[i] == 0 || !in_futex(tids[i])) usleep(500);
  }
  for (int i = 0; i < 2; ++i) {
    CHECK(pthread_rwlock_unlock(&locks[i]) == 0);
    while (!__atomic_load_n(&done[i], __ATOMIC_SEQ_CST)) usleep(500);
    usleep(2000); /* a few more syscall exits while the other one waits */
  }
  for (int i = 0; i < 2; ++i) CHECK(pthread_join(t[i], NULL) == 0);
  /* The site is patched by now: a waiter goes through it again. */
  CHECK(pthread_rwlock_wrlock(&locks[0]) == 0);
  tids[0] = 0;
  done[0] = 0;
  CHECK(pthread_create(&t[0], NULL, reader, (void*)0L) == 0);
  while (tids[0] == 0 || !in_futex(tids[0])) usleep(500);
  CHECK(pthread_rwlock_unlock(&locks[0]) == 0);
  CHECK(pthread_join(t[0], NULL) == 0);
  CHECK(done[0] == 1 && done[1] == 1);
  puts("both readers got their locks");
  test_success();
  return 0;
}
