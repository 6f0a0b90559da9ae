/* socketpair: stream between processes, datagram boundaries, and passing a
 * file descriptor with SCM_RIGHTS. */
#include <sys/socket.h>
#include <sys/wait.h>

#include "util.h"

static void send_fd(int sock, int fd) {
  char byte = 'F';
  struct iovec iov = {&byte, 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  CHECK(sendmsg(sock, &msg, 0) == 1);
}

static int recv_fd(int sock) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  CHECK(recvmsg(sock, &msg, 0) == 1 && byte == 'F');
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  CHECK(c != NULL && c->cmsg_type == SCM_RIGHTS);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(sv[0]);
    char buf[64];
    ssize_t n = read(sv[1], buf, sizeof buf);
    CHILD_CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    CHILD_CHECK(write(sv[1], "HELLO", 5) == 5);
    _exit(0);
  }
  close(sv[1]);
  write_all(sv[0], "hello", 5);
  char buf[64] = {0};
  CHECK(read_full(sv[0], buf, 5) == 5 && memcmp(buf, "HELLO", 5) == 0);
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(read(sv[0], buf, sizeof buf) == 0);
  close(sv[0]);
  printf("stream socketpair round trip: %s\n", buf);

  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
  CHECK(send(sv[0], "one", 3, 0) == 3 && send(sv[0], "three", 5, 0) == 5);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 3);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 5);
  printf("datagram boundaries kept\n");

  int p[2];
  CHECK(pipe(p) == 0);
  send_fd(sv[0], p[1]);
  int received = recv_fd(sv[1]);
  CHECK(received >= 0 && received != p[1]);
  write_all(received, "via-scm", 7);
  memset(buf, 0, sizeof buf);
  CHECK(read(p[0], buf, sizeof buf) == 7 && memcmp(buf, "via-scm", 7) == 0);
  printf("fd passed with SCM_RIGHTS works\n");
  close(received);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
  test_success();
  return 0;
}
