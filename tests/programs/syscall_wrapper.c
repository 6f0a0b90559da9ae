/* glibc's syscall() makes every syscall from one site whose number comes from
 * a register (rdi moved to rax), not a constant. Such a site is patched all
 * the same once a syscall the preload code buffers traps there
 * (monkeypatch/site.cc, recorder/patching.cc). Its first call here is one the
 * preload code never buffers (sched_yield): the site must still be patched
 * at the next buffered one. Then many buffered calls of several kinds go
 * through it, from two threads, and unbuffered ones keep working (traced
 * from the stub). check_patch_dump.py (case syscall_wrapper) checks the
 * dump: one patch of a "syscall site", and nearly all calls buffered. */
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>

#include "util.h"

enum { kRounds = 500 };

static void* worker(void* arg) {
  long* tid = arg;
  for (int i = 0; i < kRounds; i++) {
    long t = syscall(SYS_gettid);
    if (i == 0) *tid = t;
    if (t != *tid) return (void*)1;
  }
  return NULL;
}

int main(void) {
  CHECK(syscall(SYS_sched_yield) == 0);
  const long pid = getpid(), ppid = getppid();
  for (int i = 0; i < kRounds; i++) {
    CHECK(syscall(SYS_getppid) == ppid);
    CHECK(syscall(SYS_getpid) == pid);
    CHECK(syscall(SYS_gettid) == pid);
    struct timespec ts;
    CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec >= 0);
    if (i % 100 == 0) CHECK(syscall(SYS_sched_yield) == 0);
  }
  /* An error comes back as -1 and errno, as without the patch. */
  errno = 0;
  CHECK(syscall(SYS_close, -1) == -1 && errno == EBADF);
  pthread_t th;
  long tid = 0;
  void* res = NULL;
  CHECK(pthread_create(&th, NULL, worker, &tid) == 0);
  for (int i = 0; i < kRounds; i++) CHECK(syscall(SYS_getppid) == ppid);
  CHECK(pthread_join(th, &res) == 0 && res == NULL);
  CHECK(tid != pid && tid > 0);
  printf("%d rounds of syscall() calls checked\n", kRounds);
  test_success();
  return 0;
}
