/* ioctl TIOCGWINSZ: ENOTTY on a pipe and a file, a window size round trip
 * on a pseudo-terminal. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "util.h"

int main(void) {
  struct winsize ws;
  int p[2];
  CHECK(pipe(p) == 0);
  CHECK(ioctl(p[0], TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
  CHECK(isatty(p[1]) == 0);
  int null_fd = open("/dev/null", O_RDWR);
  CHECK(null_fd >= 0 && ioctl(null_fd, TIOCGWINSZ, &ws) == -1 && errno == ENOTTY);
  printf("TIOCGWINSZ on a pipe and /dev/null: ENOTTY\n");

  int master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(master >= 0);
  CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
  const char* name = ptsname(master);
  CHECK(name != NULL && strncmp(name, "/dev/pts/", 9) == 0);
  int slave = open(name, O_RDWR | O_NOCTTY);
  CHECK(slave >= 0);
  CHECK(isatty(slave) == 1);

  struct winsize set = {.ws_row = 33, .ws_col = 101, .ws_xpixel = 0, .ws_ypixel = 0};
  CHECK(ioctl(master, TIOCSWINSZ, &set) == 0);
  memset(&ws, 0, sizeof ws);
  CHECK(ioctl(slave, TIOCGWINSZ, &ws) == 0);
  CHECK(ws.ws_row == 33 && ws.ws_col == 101);
  printf("pty window size: %d rows, %d columns\n", ws.ws_row, ws.ws_col);

  struct termios t;
  CHECK(tcgetattr(slave, &t) == 0);
  cfmakeraw(&t);
  CHECK(tcsetattr(slave, TCSANOW, &t) == 0);
  write_all(slave, "through the pty", 15);
  char buf[32] = {0};
  CHECK(read_full(master, buf, 15) == 15 && strcmp(buf, "through the pty") == 0);
  int avail = -1;
  CHECK(ioctl(master, FIONREAD, &avail) == 0 && avail == 0);
  printf("pty data: %s\n", buf);
  close(slave);
  close(master);
  close(null_fd);
  test_success();
  return 0;
}
