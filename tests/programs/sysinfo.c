/* uname, sysinfo, getrlimit/setrlimit/prlimit, getrusage. */
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "util.h"

int main(void) {
  struct utsname u;
  CHECK(uname(&u) == 0);
  CHECK(strcmp(u.sysname, "Linux") == 0);
  CHECK(strlen(u.release) > 0 && strlen(u.nodename) > 0);
  CHECK(strcmp(u.machine, "x86_64") == 0);
  printf("uname: %s %s\n", u.sysname, u.machine);

  struct sysinfo si;
  CHECK(sysinfo(&si) == 0);
  CHECK(si.uptime > 0 && si.totalram > 0 && si.procs > 0 && si.mem_unit > 0);
  CHECK(si.freeram <= si.totalram);
  printf("sysinfo: plausible\n");

  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  CHECK(rl.rlim_cur > 0 && rl.rlim_cur <= rl.rlim_max);
  struct rlimit lower = {64, rl.rlim_max};
  CHECK(setrlimit(RLIMIT_NOFILE, &lower) == 0);
  struct rlimit now;
  CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == 64);
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

  struct rlimit core = {0, 0}, old;
  CHECK(prlimit(0, RLIMIT_CORE, NULL, &old) == 0);
  struct rlimit set = {0, old.rlim_max};
  CHECK(prlimit(0, RLIMIT_CORE, &set, &core) == 0);
  CHECK(core.rlim_cur == old.rlim_cur && core.rlim_max == old.rlim_max);
  CHECK(prlimit(getpid(), RLIMIT_CORE, NULL, &now) == 0 && now.rlim_cur == 0);
  printf("rlimits: set and read back\n");

  struct rusage ru;
  CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
  CHECK(ru.ru_maxrss > 0);
  CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
  CHECK(sysconf(_SC_PAGESIZE) == 4096);
  CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1);
  printf("page size 4096\n");
  test_success();
  return 0;
}
