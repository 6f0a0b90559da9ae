// Benchmark workload: THREADS threads (default 4), each computing without any
// syscall for ITERS million iterations (default 850, about a second natively),
// then printing its result.
// usage: threads_compute [THREADS] [MILLION_ITERS]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long iterations;

static void* compute(void* arg) {
  unsigned long x = (unsigned long)(long)arg + 1;
  for (long i = 0; i < iterations; ++i) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return (void*)x;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  iterations = (argc > 2 ? atol(argv[2]) : 850) * 1000000L;
  if (threads < 1 || threads > 64) return 2;
  pthread_t tids[64];
  for (int i = 0; i < threads; ++i)
    if (pthread_create(&tids[i], NULL, compute, (void*)(long)i) != 0) return 1;
  for (int i = 0; i < threads; ++i) {
    void* result;
    if (pthread_join(tids[i], &result) != 0) return 1;
    printf("thread %d: %lx\n", i, (unsigned long)result);
  }
  return 0;
}
