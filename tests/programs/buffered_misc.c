/* Syscalls the preload code buffers besides reads and writes (issue 5): each
 * is made several times, so that the first call (traced, which patches its
 * site) is followed by buffered ones. Their answers are printed as NONDET
 * lines, which replay must show identically. rt_sigaction and a blocking
 * rt_sigprocmask are buffered (replay runs them for real); the one that
 * unblocks a pending SIGUSR1 must deliver it before it returns. */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util.h"

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
  (void)sig;
  handled++;
}

int main(void) {
  char dir[] = "/tmp/rrl-buffered-misc-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  CHECK(chdir(dir) == 0);
  for (int round = 0; round < 3; ++round) {
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(strcmp(cwd, dir) == 0);
    CHECK(mkdir("sub", 0755) == 0);
    int fd = open("sub/a", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    CHECK(close(fd) == 0);
    CHECK(access("sub/a", R_OK) == 0);
    CHECK(access("sub/missing", F_OK) == -1 && errno == ENOENT);
    CHECK(faccessat(AT_FDCWD, "sub/a", W_OK, 0) == 0);
    CHECK(symlink("sub/a", "link") == 0);
    char target[64] = {0};
    CHECK(readlink("link", target, sizeof target) == 5 && memcmp(target, "sub/a", 5) == 0);
    memset(target, 0, sizeof target);
    CHECK(readlinkat(AT_FDCWD, "link", target, sizeof target) == 5);
    struct stat st;
    CHECK(stat("link", &st) == 0 && st.st_size == 10);
    CHECK(lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
    printf("NONDET round %d: a inode %lu\n", round, (unsigned long)st.st_ino);
    CHECK(chmod("sub/a", 0600) == 0);
    CHECK(stat("sub/a", &st) == 0 && (st.st_mode & 0777) == 0600);
    struct timespec times[2] = {{1000000, 0}, {2000000, 0}};
    CHECK(utimensat(AT_FDCWD, "sub/a", times, 0) == 0);
    CHECK(stat("sub/a", &st) == 0 && st.st_mtim.tv_sec == 2000000);
    int in = open("sub/a", O_RDONLY);
    int out = open("sub/b", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(in >= 0 && out >= 0);
    loff_t off_in = 2;
    CHECK(copy_file_range(in, &off_in, out, NULL, 5, 0) == 5 && off_in == 7);
    CHECK(close(in) == 0 && close(out) == 0);
    CHECK(stat("sub/b", &st) == 0 && st.st_size == 5);
    CHECK(rename("sub/b", "sub/c") == 0);
    CHECK(unlink("sub/c") == 0 && unlink("sub/a") == 0 && unlink("link") == 0);
    CHECK(rmdir("sub") == 0);

    struct utsname u;
    CHECK(uname(&u) == 0);
    printf("NONDET round %d: release %s\n", round, u.release);
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0 && si.uptime > 0);
    printf("NONDET round %d: uptime %ld\n", round, si.uptime);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    printf("NONDET round %d: minflt %ld\n", round, ru.ru_minflt);
    struct rlimit rl;
    CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur > 0);
    printf("NONDET round %d: nofile %lu\n", round, (unsigned long)rl.rlim_cur);

    struct sigaction sa = {0}, old;
    sa.sa_handler = on_usr1;
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_usr1);
    sigset_t block, prev;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &block, &prev) == 0);
    CHECK(raise(SIGUSR1) == 0);
    CHECK(handled == round);
    CHECK(sigprocmask(SIG_SETMASK, &prev, NULL) == 0); /* delivered here */
    CHECK(handled == round + 1);
  }
  CHECK(chdir("/") == 0);
  CHECK(rmdir(dir) == 0);
  printf("handled %d\n", (int)handled);
  test_success();
  return 0;
}
