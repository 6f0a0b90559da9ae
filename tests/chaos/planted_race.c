/* A planted race for chaos mode: two threads add to a shared counter with a
 * read-modify-write that no lock protects. The total is right only when
 * neither thread is interrupted between its read and its write while the
 * other one adds. Under rr-like's calm schedule each thread finishes its
 * loop within one time slice and the check passes; chaos mode's short slices
 * interrupt the loops at arbitrary points and expose the lost updates.
 * Exits 1 with "RACE: ..." when updates were lost. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ITERATIONS 40000000L

static volatile long counter;
static volatile unsigned long sink;

static void* adder(void* arg) {
  unsigned long mix = (unsigned long)arg;
  for (long i = 0; i < ITERATIONS; i++) {
    long v = counter;
    /* Some work between the read and the write: the window is most of the
     * loop, as in real read-compute-write races. */
    mix = mix * 6364136223846793005UL + (unsigned long)v;
    mix ^= mix >> 29;
    long zero; /* 0, but only after mix is done: keeps the work in the window */
    __asm__("xor %0, %0" : "=r"(zero) : "r"(mix));
    counter = v + 1 + zero;
  }
  sink = mix;
  return NULL;
}

int main(void) {
  pthread_t threads[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&threads[i], NULL, adder, (void*)(long)(i + 1)) != 0) return 2;
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  printf("counter %ld of %ld\n", counter, 2 * ITERATIONS);
  if (counter != 2 * ITERATIONS) {
    printf("RACE: %ld updates lost\n", 2 * ITERATIONS - counter);
    return 1;
  }
  puts("EXIT-SUCCESS");
  return 0;
}
