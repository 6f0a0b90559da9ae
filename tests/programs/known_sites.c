/* A process patches the syscall sites of libc and ld.so as it first makes
 * each syscall there. A process started later in the same recording gets
 * the sites already patched elsewhere as soon as its libc and ld.so are
 * mapped (recorder/patching.cc, apply_known_sites): its getppid, uname and
 * sysinfo are buffered from the first call, without a stop to patch them.
 * Two such processes run one after the other: the patch planned for the
 * first is written again as it is in the second (known_patches_).
 * check_patch_dump.py (case known_sites) checks that in the dump. */
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "util.h"

extern char** environ;

static void make_calls(void) {
  for (int i = 0; i < 3; i++) {
    struct utsname u;
    struct sysinfo si;
    CHECK(getppid() > 0);
    CHECK(uname(&u) == 0 && u.sysname[0] != '\0');
    CHECK(sysinfo(&si) == 0 && si.mem_unit > 0);
  }
}

int main(int argc, char** argv) {
  make_calls();
  if (argc == 2 && strcmp(argv[1], "--second") == 0) {
    printf("second process made its calls\n");
    return 0;
  }
  CHECK(argc == 1);
  printf("first process made its calls\n");
  /* Two of them: the second reuses the patch planned for the first. */
  for (int i = 0; i < 2; i++) {
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
      char* args[] = {argv[0], "--second", NULL};
      execve("/proc/self/exe", args, environ);
      _exit(99);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  test_success();
  return 0;
}
