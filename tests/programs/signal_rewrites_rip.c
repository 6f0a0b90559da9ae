/* Regression (issue 5, c): signal handlers that rewrite the interrupted
 * context's rip. (1) A SIGSEGV handler skips the faulting instruction's
 * function by moving rip to a recovery function. (2) A SIGALRM handler
 * interrupts a blocking read on a pipe (made through a patched libc site's
 * stub) and moves rip to a recovery function; the stack pointer it sees must
 * be the program's own. Buffered syscalls run before and after. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

#include "util.h"

static jmp_buf back;
static volatile int recovered_segv, recovered_alarm;
static volatile long seen_sp_ok;
static int file_fd;

static void after_segv(void) {
  char c;
  recovered_segv = pread(file_fd, &c, 1, 0) == 1 && c == 'q';
  longjmp(back, 1);
}

static void after_alarm(void) {
  struct timespec ts;
  recovered_alarm = clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
  longjmp(back, 2);
}

static void on_segv(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)si;
  ucontext_t* uc = ctx;
  uc->uc_mcontext.gregs[REG_RIP] = (greg_t)after_segv;
  uc->uc_mcontext.gregs[REG_RSP] &= ~15LL;
  uc->uc_mcontext.gregs[REG_RSP] -= 8;
}

static char* stack_low;
static char* stack_high;

static void on_alarm(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)si;
  ucontext_t* uc = ctx;
  char* sp = (char*)uc->uc_mcontext.gregs[REG_RSP];
  seen_sp_ok = sp > stack_low && sp < stack_high;
  uc->uc_mcontext.gregs[REG_RIP] = (greg_t)after_alarm;
  uc->uc_mcontext.gregs[REG_RSP] &= ~15LL;
  uc->uc_mcontext.gregs[REG_RSP] -= 8;
}

int main(void) {
  char path[4096];
  const char* tmpdir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/rrl-rip-XXXXXX", tmpdir ? tmpdir : "/tmp");
  file_fd = mkstemp(path);
  CHECK(file_fd >= 0);
  CHECK(write(file_fd, "q", 1) == 1);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
  sa.sa_sigaction = on_alarm;
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

  volatile int* volatile bad = (volatile int*)16;
  if (setjmp(back) == 0) *bad = 1;
  CHECK(recovered_segv == 1);

  int p[2];
  CHECK(pipe(p) == 0);
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  stack_high = (char*)(here + 4096);
  stack_low = (char*)(here - 65536);
  struct itimerval it = {{0, 0}, {0, 20000}};
  if (setjmp(back) == 0) {
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    char c;
    (void)read(p[0], &c, 1); /* blocks until SIGALRM */
    CHECK(!"read returned");
  }
  CHECK(recovered_alarm == 1);
  CHECK(seen_sp_ok == 1);
  unlink(path);
  puts("both handlers moved rip and the program recovered");
  test_success();
  return 0;
}
