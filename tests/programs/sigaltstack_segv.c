/* A SIGSEGV handler on an alternate stack recovers with siglongjmp, from a
 * bad pointer and from a stack overflow. */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "util.h"

static sigjmp_buf recover;
static char* alt_base;
static size_t alt_size;
static volatile sig_atomic_t on_alt_stack, addr_ok;
static void* volatile expected_addr;

static void on_segv(int sig, siginfo_t* info, void* context) {
  (void)context;
  char local;
  on_alt_stack = &local >= alt_base && &local < alt_base + alt_size;
  addr_ok = sig == SIGSEGV && (expected_addr == NULL || info->si_addr == expected_addr);
  siglongjmp(recover, 1);
}

static int recurse(int depth) {
  volatile char pad[1024];
  pad[0] = (char)depth;
  if (depth > 1000000) return 0; /* never reached: the stack is 1 MB */
  return recurse(depth + 1) + pad[0];
}

int main(void) {
  alt_size = 64 * 1024;
  alt_base = malloc(alt_size);
  CHECK(alt_base != NULL);
  stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
  CHECK(sigaltstack(&ss, NULL) == 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);

  char* page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  for (int i = 0; i < 3; i++) {
    expected_addr = page + 100 * i;
    on_alt_stack = addr_ok = 0;
    if (sigsetjmp(recover, 1) == 0) {
      *(volatile char*)(page + 100 * i) = 1;
      CHECK(!"write to PROT_NONE page succeeded");
    }
    CHECK(on_alt_stack && addr_ok);
    printf("fault %d: handled on the alternate stack\n", i);
  }

  /* Stack overflow: only the alternate stack lets the handler run. */
  struct rlimit rl = {1 << 20, 1 << 20};
  CHECK(setrlimit(RLIMIT_STACK, &rl) == 0);
  expected_addr = NULL;
  on_alt_stack = addr_ok = 0;
  if (sigsetjmp(recover, 1) == 0) {
    recurse(0);
    CHECK(!"recursion returned");
  }
  CHECK(on_alt_stack && addr_ok);
  printf("stack overflow: handled on the alternate stack\n");

  stack_t cur;
  CHECK(sigaltstack(NULL, &cur) == 0 && cur.ss_flags == 0); /* no longer on it */
  munmap(page, 4096);
  test_success();
  return 0;
}
