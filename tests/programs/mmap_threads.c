/* Threads map, protect and unmap memory at the same time. Where the kernel
 * puts each mapping depends on the order in which the threads' mmap and
 * munmap calls ran; replay runs them again (they change the address space),
 * in the order of their events. So the recording must not let two of them
 * run at once in the kernel, or replay ends up with a different layout: an
 * mprotect then fails there, or a thread touches memory that replay
 * unmapped. Each thread checks its own mappings, so the program's output is
 * the same whatever the layout. */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "util.h"

enum { kThreads = 3, kRounds = 200, kLive = 6 };

static void* worker(void* arg) {
  unsigned id = (unsigned)(uintptr_t)arg;
  unsigned seed = 12345u + id;
  char* live[kLive] = {0};
  size_t sizes[kLive] = {0};
  for (int round = 0; round < kRounds; round++) {
    int slot = round % kLive;
    if (live[slot]) {
      /* Still holds what was written when it was mapped. */
      CHECK(live[slot][0] == (char)('a' + id) && live[slot][sizes[slot] - 1] == (char)slot);
      CHECK(munmap(live[slot], sizes[slot]) == 0);
      live[slot] = NULL;
    }
    seed = seed * 1103515245u + 12345u;
    size_t pages = 1 + (seed >> 16) % 64;
    size_t size = pages * 4096;
    /* A reserve-then-protect pattern, as thread stacks and malloc arenas use. */
    char* p = mmap(NULL, size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(mprotect(p + 4096, size, PROT_READ | PROT_WRITE) == 0);
    CHECK(munmap(p, 4096) == 0);
    p += 4096;
    p[0] = (char)('a' + id);
    p[size - 1] = (char)slot;
    live[slot] = p;
    sizes[slot] = size;
  }
  for (int slot = 0; slot < kLive; slot++)
    if (live[slot]) CHECK(munmap(live[slot], sizes[slot]) == 0);
  return NULL;
}

int main(void) {
  pthread_t t[kThreads];
  for (uintptr_t i = 0; i < kThreads; i++)
    CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0);
  for (int i = 0; i < kThreads; i++) CHECK(pthread_join(t[i], NULL) == 0);
  printf("%d threads mapped and unmapped %d times each\n", kThreads, kRounds);
  test_success();
  return 0;
}
