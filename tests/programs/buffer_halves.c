/* The syscall buffer fills up many times over (each of its halves holds
 * about 15,000 small records), and the recorder reads each full half while
 * the program goes on in the other one. Everything that could race with
 * that read happens right after a half fills: two threads taking turns in
 * the buffer, writes to stdout (whose echo flag is worked out with the read),
 * a child that fills halves of its own copy and exits at once, and one that
 * execs at once. Every result is checked, and stdout must be the same
 * natively, recorded and replayed. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

/* A half holds about 16,000 of these records: the main thread's part fills
 * one, the threads' another, and each child and the last part more than one
 * (a child starts where its parent's buffer was). */
enum { kRounds = 4, kRoundCalls = 2500, kThreadCalls = 6000, kFullHalf = 17000 };

static int data_fd;

/* n preads of 8 bytes at changing offsets, each checked. */
static long read_many(int n, int salt) {
  long good = 0;
  char buf[8];
  for (int i = 0; i < n; ++i) {
    int off = (i * 7 + salt) % 200;
    if (pread(data_fd, buf, sizeof buf, off) == (ssize_t)sizeof buf &&
        buf[0] == (char)('A' + off % 26))
      ++good;
  }
  return good;
}

static void* reader(void* arg) {
  long salt = (long)arg;
  return (void*)read_many(kThreadCalls, (int)salt);
}

int main(void) {
  char dir[4096], path[4200];
  make_temp_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/data", dir);
  data_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(data_fd >= 0);
  char block[256];
  for (int i = 0; i < (int)sizeof block; ++i) block[i] = (char)('A' + i % 26);
  CHECK(write(data_fd, block, sizeof block) == (ssize_t)sizeof block);

  /* One thread: reads, clocks and a line on stdout every 5,000 calls. */
  struct timespec before, now;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &before) == 0);
  for (int round = 0; round < kRounds; ++round) {
    CHECK(read_many(kRoundCalls, round) == kRoundCalls);
    for (int i = 0; i < kRoundCalls; ++i) {
      CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
      CHECK(now.tv_sec > before.tv_sec ||
            (now.tv_sec == before.tv_sec && now.tv_nsec >= before.tv_nsec));
      before = now;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "round %d: 5000 calls checked\n", round);
    CHECK(write(1, line, (size_t)len) == len);
  }

  /* Two threads at once. */
  pthread_t t[2];
  for (long i = 0; i < 2; ++i) CHECK(pthread_create(&t[i], NULL, reader, (void*)i) == 0);
  for (int i = 0; i < 2; ++i) {
    void* good = NULL;
    CHECK(pthread_join(t[i], &good) == 0);
    CHECK((long)good == kThreadCalls);
  }
  puts("threads: all reads checked");
  fflush(stdout);

  /* A child fills its own buffer and exits right away; another execs. */
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) _exit(read_many(kFullHalf, 3) == kFullHalf ? 7 : 99);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    if (read_many(kFullHalf, 5) != kFullHalf) _exit(99);
    execl("/bin/sh", "sh", "-c", "exit 8", (char*)NULL);
    _exit(98);
  }
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 8);
  puts("children: both checked");

  /* The program exits right after a half filled, while it is being read. */
  CHECK(read_many(kFullHalf, 9) == kFullHalf);
  close(data_fd);
  unlink(path);
  rmdir(dir);
  test_success();
  return 0;
}
