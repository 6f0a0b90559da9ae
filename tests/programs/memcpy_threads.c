/* Two threads copy large buffers (glibc's memcpy uses `rep movsb` for these)
 * without any syscall for a long time, so the recorder interrupts them in the
 * middle of a copy: a point inside a repeated string instruction, which
 * replay could never find again (the recorder must move the task past it). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

#define SIZE (256 << 10)
#define ROUNDS 3000

static uint64_t checksum(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i += 4096) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void* copier(void* arg) {
  unsigned char* a = malloc(SIZE);
  unsigned char* b = malloc(SIZE);
  CHECK(a && b);
  for (size_t i = 0; i < SIZE; i++) a[i] = (unsigned char)(i * 7 + (uintptr_t)arg);
  for (int r = 0; r < ROUNDS; r++) {
    memcpy(b, a, SIZE);
    a[r] ^= b[SIZE - 1 - r];
    memcpy(a, b, SIZE);
  }
  uint64_t* out = malloc(sizeof *out);
  *out = checksum(a, SIZE);
  free(a);
  free(b);
  return out;
}

int main(void) {
  pthread_t t[2];
  for (long i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, copier, (void*)(i + 1)) == 0);
  for (int i = 0; i < 2; i++) {
    void* r;
    CHECK(pthread_join(t[i], &r) == 0);
    printf("thread %d checksum %llx\n", i, (unsigned long long)*(uint64_t*)r);
    free(r);
  }
  test_success();
  return 0;
}
