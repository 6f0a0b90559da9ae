/* The program bench/gdb_reverse.sh debugs: about 100,000 syscalls (events),
 * with a function called near the start and one near the end. */
#include <stdio.h>
#include <unistd.h>

volatile int sink;

void near_start(int i) { sink = i; }
void near_end(int i) { sink = i; }
void finish_line(void) { sink = -1; }

int main(void) {
  for (int i = 0; i < 100000; i++) {
    sink += getppid() > 0;
    if (i == 100) near_start(i);
    if (i == 99000) near_end(i);
  }
  finish_line();
  printf("done %d\n", sink);
  return 0;
}
