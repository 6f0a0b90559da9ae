/* A program for the gdb tests: plain calls with arguments, a loop that hits
 * the same breakpoint with a changing counter, and a global written several
 * times. Built with -O0 so that gdb sees every variable. */
#include <stdio.h>
#include <unistd.h>

int watched;
int hits;

int add(int a, int b) {
  int sum = a + b;
  return sum;
}

void visit(int i) {
  hits++;
  watched = i * 10;
}

int compute(int x) {
  int doubled = add(x, x);
  return doubled + 1;
}

int main(void) {
  int total = 0;
  for (int i = 1; i <= 5; i++) {
    visit(i);
    total += (int)getpid() > 0;
  }
  int result = compute(21);
  printf("total=%d result=%d watched=%d\n", total, result, watched);
  return 3;
}
