/* Loopback TCP: listen on 127.0.0.1 port 0, getsockname, a forked client
 * connects, both send and receive. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "util.h"

enum { kBytes = 200000 };

int main(void) {
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(server >= 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(server, (struct sockaddr*)&addr, sizeof addr) == 0);
  CHECK(listen(server, 4) == 0);
  socklen_t len = sizeof addr;
  CHECK(getsockname(server, (struct sockaddr*)&addr, &len) == 0);
  CHECK(len == sizeof addr && addr.sin_port != 0);
  CHECK(addr.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  printf("bound to an ephemeral loopback port\n");

  fflush(stdout);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(server);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHILD_CHECK(c >= 0);
    CHILD_CHECK(connect(c, (struct sockaddr*)&addr, sizeof addr) == 0);
    static char data[kBytes];
    for (int i = 0; i < kBytes; i++) data[i] = (char)(i * 7);
    CHILD_CHECK(send(c, data, kBytes, 0) == kBytes);
    char reply[32] = {0};
    CHILD_CHECK(recv(c, reply, 20, MSG_WAITALL) == 20);
    CHILD_CHECK(memcmp(reply, "received-all-of-it!!", 20) == 0);
    close(c);
    _exit(0);
  }
  struct sockaddr_in peer;
  len = sizeof peer;
  int conn = accept(server, (struct sockaddr*)&peer, &len);
  CHECK(conn >= 0);
  CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  int one = 1;
  CHECK(setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
  static char got[kBytes];
  size_t n = 0;
  while (n < kBytes) {
    ssize_t r = recv(conn, got + n, kBytes - n, 0);
    CHECK(r > 0);
    n += (size_t)r;
  }
  for (int i = 0; i < kBytes; i++) CHECK(got[i] == (char)(i * 7));
  CHECK(send(conn, "received-all-of-it!!", 20, 0) == 20);
  char tmp;
  CHECK(recv(conn, &tmp, 1, 0) == 0); /* client closed */
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("server received %d bytes intact\n", kBytes);
  close(conn);
  close(server);
  test_success();
  return 0;
}
