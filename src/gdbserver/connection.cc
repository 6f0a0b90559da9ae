// Loopback listener and packet connection to gdb. See connection.h.
#include "gdbserver/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/log.h"

namespace rrl::gdb {
namespace {

const LogChannel kLog("gdbserver");
constexpr int kMaxResends = 10;

bool is_disconnect_errno(int err) {
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ESHUTDOWN;
}

}  // namespace

Expected<GdbListener> GdbListener::listen_loopback(uint16_t port) {
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail_errno("cannot create the gdb socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // never reachable from outside
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return fail_errno("cannot bind 127.0.0.1:" + std::to_string(port) + " for gdb");
  if (::listen(fd.get(), 4) != 0) return fail_errno("cannot listen for gdb");
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return fail_errno("getsockname on the gdb socket");
  uint16_t chosen = ntohs(addr.sin_port);
  kLog.info(0, "listening for gdb on 127.0.0.1:{}", chosen);
  return GdbListener(std::move(fd), chosen);
}

Expected<Connection> GdbListener::accept_client() && {
  int client;
  do {
    client = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  } while (client < 0 && errno == EINTR);
  if (client < 0) return fail_errno("accepting the gdb connection");
  int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  kLog.info(0, "gdb connected");
  return Connection(ScopedFd(client), std::move(fd_));
}

Connection::Connection(ScopedFd client, ScopedFd listener)
    : fd_(std::move(client)), listener_(std::move(listener)) {
  if (listener_.valid()) {
    int flags = ::fcntl(listener_.get(), F_GETFL);
    ::fcntl(listener_.get(), F_SETFL, flags | O_NONBLOCK);
  }
}

void Connection::set_no_ack(bool no_ack) {
  decoder_.set_no_ack(no_ack);
}

void Connection::refuse_new_clients() {
  while (true) {
    int extra = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (extra < 0) return;
    kLog.info(0, "refused a second gdb client: one is already connected");
    ::close(extra);
  }
}

Expected<bool> Connection::fill(bool blocking) {
  if (eof_) return false;
  while (true) {
    pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    int n = ::poll(fds, listener_.valid() ? 2 : 1, blocking ? -1 : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("poll on the gdb connection");
    if (listener_.valid() && (fds[1].revents & POLLIN)) refuse_new_clients();
    if (fds[0].revents == 0) {
      if (blocking) continue;
      return true;
    }
    char buf[4096];
    ssize_t got = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0 && !is_disconnect_errno(errno)) return fail_errno("reading from gdb");
    if (got <= 0) {
      kLog.info(0, "gdb disconnected");
      eof_ = true;
      return false;
    }
    decoder_.feed(std::string_view(buf, static_cast<size_t>(got)));
    return true;
  }
}

Status Connection::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (is_disconnect_errno(errno)) eof_ = true;
      return fail_errno("writing to gdb");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::optional<PacketEvent> Connection::next_event() {
  if (pending_.empty()) return decoder_.next();
  PacketEvent ev = std::move(pending_.front());
  pending_.pop_front();
  return ev;
}

Expected<ConnectionEvent> Connection::read_event() {
  using Kind = PacketEvent::Kind;
  while (true) {
    std::optional<PacketEvent> ev = next_event();
    if (!ev) {
      auto more = fill(/*blocking=*/true);
      if (!more) return std::unexpected(more.error());
      if (!*more) return ConnectionEvent{ConnectionEvent::Kind::kDisconnected, {}};
      continue;
    }
    switch (ev->kind) {
      case Kind::kPacket:
        if (!no_ack()) RRL_TRY(write_all("+"));
        kLog.debug(0, "<- {}", ev->payload);
        return ConnectionEvent{ConnectionEvent::Kind::kPacket, std::move(ev->payload)};
      case Kind::kNakNeeded:
        kLog.info(0, "damaged packet from gdb, asking again");
        RRL_TRY(write_all("-"));
        break;
      case Kind::kInterrupt:
        return ConnectionEvent{ConnectionEvent::Kind::kInterrupt, {}};
      case Kind::kAck:
      case Kind::kNak:
        break;  // stray: nothing of ours is waiting for one
    }
  }
}

Status Connection::wait_for_ack(std::string_view frame) {
  using Kind = PacketEvent::Kind;
  std::deque<PacketEvent> kept;  // events for read_event(), in arrival order
  auto keep_for_later = [&] { pending_.insert(pending_.begin(), kept.begin(), kept.end()); };
  int resends = 0;
  while (true) {
    auto ev = next_event();
    if (!ev) {
      auto more = fill(/*blocking=*/true);
      if (!more) return std::unexpected(more.error());
      if (!*more) return fail("gdb disconnected");
      continue;
    }
    if (ev->kind == Kind::kAck) break;
    if (ev->kind == Kind::kNak) {
      if (++resends > kMaxResends) return fail("gdb keeps rejecting our packets");
      RRL_TRY(write_all(frame));
      continue;
    }
    bool is_packet = ev->kind == Kind::kPacket || ev->kind == Kind::kNakNeeded;
    kept.push_back(std::move(*ev));
    if (is_packet) break;  // gdb moved on without acking
  }
  keep_for_later();
  return {};
}

Status Connection::send_packet(std::string_view payload) {
  kLog.debug(0, "-> {}", payload);
  std::string frame = encode_packet(payload);
  RRL_TRY(write_all(frame));
  if (no_ack()) return {};
  return wait_for_ack(frame);
}

bool Connection::poll_interrupt() {
  auto take_interrupt = [this] {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->kind == PacketEvent::Kind::kInterrupt) {
        pending_.erase(it);
        return true;
      }
    }
    return false;
  };
  auto drain = [this] {
    while (auto ev = decoder_.next()) pending_.push_back(std::move(*ev));
  };
  drain();
  if (take_interrupt()) return true;
  auto more = fill(/*blocking=*/false);
  drain();
  if (take_interrupt()) return true;
  // gdb went away: stop the target, unless packets it sent are still queued.
  bool gone = !more || !*more;
  bool queued = std::any_of(pending_.begin(), pending_.end(), [](const PacketEvent& ev) {
    return ev.kind == PacketEvent::Kind::kPacket;
  });
  return gone && !queued;
}

}  // namespace rrl::gdb
