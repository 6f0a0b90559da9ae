/* Regression (issue 5, a): a thread waits in futex, a signal interrupts it,
 * and its handler does buffered syscalls (pread of a regular file,
 * clock_gettime). The futex site is glibc's non-cancellable futex wait (a
 * reader waiting for a write-locked rwlock), whose patch region begins
 * before the syscall: its patch is deferred, and it must land on the futex
 * site, never on the site of the handler's read, and never while a handler
 * that will return into the region runs. In later rounds the site is
 * patched, and the wait is a buffered futex that the recorder takes back.
 * The handler's results and the wait must be exact in the recording and in
 * every replay; tests/scripts/syscallbuf_dump.sh checks the patches in the
 * dump. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "util.h"

enum { kRounds = 4, kSignalsPerRound = 5 };

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static int data_fd;
static volatile int handler_runs;
static volatile int rounds_done;
static char handler_buf[8];
static volatile long handler_clock_ok;
static volatile pid_t waiter_tid;

static void on_usr1(int sig) {
  (void)sig;
  struct timespec ts;
  if (pread(data_fd, handler_buf, 5, 2) == 5) handler_runs++;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec >= 0) handler_clock_ok++;
}

static void* waiter(void* arg) {
  (void)arg;
  waiter_tid = (pid_t)syscall(SYS_gettid);
  for (int r = 0; r < kRounds; ++r) {
    CHECK(pthread_rwlock_rdlock(&lock) == 0); /* waits in futex */
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    __atomic_store_n(&rounds_done, r + 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&rounds_done, __ATOMIC_SEQ_CST) != -(r + 1)) usleep(500);
  }
  return NULL;
}

/* Whether thread tid sleeps in futex (/proc/self/task/TID/syscall). */
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
  const char* tmpdir = getenv("TMPDIR");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s/rrl-futex-sig-XXXXXX", tmpdir ? tmpdir : "/tmp");
  data_fd = mkstemp(buf);
  CHECK(data_fd >= 0);
  CHECK(write(data_fd, "0123456789", 10) == 10);
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  CHECK(pthread_rwlock_wrlock(&lock) == 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
  int sent = 0;
  for (int r = 0; r < kRounds; ++r) {
    while (waiter_tid == 0 || !in_futex(waiter_tid)) usleep(500);
    for (int i = 0; i < kSignalsPerRound; ++i) {
      CHECK(pthread_kill(t, SIGUSR1) == 0);
      ++sent;
      /* One at a time: signals sent faster than they are handled merge. */
      while (handler_runs < sent) usleep(500);
      while (!in_futex(waiter_tid)) usleep(500);
    }
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    while (__atomic_load_n(&rounds_done, __ATOMIC_SEQ_CST) != r + 1) usleep(500);
    CHECK(pthread_rwlock_wrlock(&lock) == 0);
    __atomic_store_n(&rounds_done, -(r + 1), __ATOMIC_SEQ_CST);
  }
  CHECK(pthread_rwlock_unlock(&lock) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(handler_runs == kRounds * kSignalsPerRound);
  CHECK(handler_clock_ok == kRounds * kSignalsPerRound);
  CHECK(memcmp(handler_buf, "23456", 5) == 0);
  unlink(buf);
  printf("handler ran %d times and read %.5s\n", handler_runs, handler_buf);
  test_success();
  return 0;
}
