/* kill, raise, sigqueue and SA_SIGINFO handlers (si_signo, si_code, si_pid),
 * a handler that itself makes syscalls, blocked and pending signals. */
#include <signal.h>

#include "util.h"

static volatile sig_atomic_t last_signo, last_code, last_pid_ok, last_value, handler_wrote;
static int handler_pipe[2];

static void on_signal(int sig, siginfo_t* info, void* context) {
  (void)context;
  last_signo = info->si_signo == sig ? sig : -1;
  last_code = info->si_code;
  last_pid_ok = info->si_pid == getpid(); /* a syscall inside the handler */
  last_value = info->si_code == SI_QUEUE ? info->si_value.sival_int : 0;
  if (write(handler_pipe[1], "h", 1) == 1) handler_wrote++;
}

static void install(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(sig, &sa, NULL) == 0);
}

int main(void) {
  CHECK(pipe(handler_pipe) == 0);
  install(SIGUSR1);
  install(SIGUSR2);

  CHECK(raise(SIGUSR1) == 0);
  CHECK(last_signo == SIGUSR1 && last_code == SI_TKILL && last_pid_ok);
  printf("raise: signo ok, code SI_TKILL\n");

  CHECK(kill(getpid(), SIGUSR2) == 0);
  CHECK(last_signo == SIGUSR2 && last_code == SI_USER && last_pid_ok);
  printf("kill: signo ok, code SI_USER\n");

  union sigval value = {.sival_int = 1234};
  CHECK(sigqueue(getpid(), SIGUSR1, value) == 0);
  CHECK(last_signo == SIGUSR1 && last_code == SI_QUEUE && last_value == 1234);
  printf("sigqueue: value %d\n", (int)last_value);

  /* Blocked signal stays pending until unblocked. */
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
  last_signo = 0;
  CHECK(raise(SIGUSR2) == 0);
  CHECK(last_signo == 0);
  CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR2));
  CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
  CHECK(last_signo == SIGUSR2);
  printf("pending signal delivered on unblock\n");

  /* Ignored signal, and restoring default action. */
  struct sigaction old;
  CHECK(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
  last_signo = 0;
  CHECK(raise(SIGUSR1) == 0);
  CHECK(last_signo == 0);
  CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_IGN);

  char buf[8];
  CHECK(read(handler_pipe[0], buf, sizeof buf) == handler_wrote);
  CHECK(handler_wrote == 4);
  printf("handler wrote %d bytes\n", (int)handler_wrote);
  test_success();
  return 0;
}
