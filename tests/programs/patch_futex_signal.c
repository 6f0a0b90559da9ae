/* Regression (issue 5, a): a thread waits in futex, a signal interrupts it,
 * and its handler does buffered syscalls (pread of a regular file,
 * clock_gettime) through sites that get patched right then. The futex wait
 * must resume correctly afterwards and the handler's results must be exact,
 * in the recording and in every replay. */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "util.h"

static int futex_word;
static int data_fd;
static volatile int handler_runs;
static char handler_buf[8];
static volatile long handler_clock_ok;

static void on_usr1(int sig) {
  (void)sig;
  struct timespec ts;
  if (pread(data_fd, handler_buf, 5, 2) == 5) handler_runs++;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec >= 0) handler_clock_ok++;
}

static void* waiter(void* arg) {
  (void)arg;
  while (__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0)
    syscall(SYS_futex, &futex_word, FUTEX_WAIT, 0, NULL, NULL, 0);
  return NULL;
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
  pthread_t t;
  CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
  for (int i = 0; i < 20; ++i) {
    CHECK(pthread_kill(t, SIGUSR1) == 0);
    /* One at a time: signals sent faster than they are handled merge. */
    while (handler_runs <= i) usleep(1000);
  }
  usleep(5000);
  __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &futex_word, FUTEX_WAKE, 1, NULL, NULL, 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(handler_runs == 20);
  CHECK(handler_clock_ok == 20);
  CHECK(memcmp(handler_buf, "23456", 5) == 0);
  unlink(buf);
  printf("handler ran %d times and read %.5s\n", handler_runs, handler_buf);
  test_success();
  return 0;
}
