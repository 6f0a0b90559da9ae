// The socket side of the gdb server: a loopback listener that hands out one
// client, and the Connection that frames packets over it (acks, no-ack mode,
// Ctrl-C polling). A Connection owns its listening socket, if any, and turns
// away every further client while it serves the first.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/scoped_fd.h"
#include "gdbserver/packet.h"

namespace rrl::gdb {

class Connection;

class GdbListener {
 public:
  // Listens on 127.0.0.1:`port`; port 0 lets the kernel pick one.
  static Expected<GdbListener> listen_loopback(uint16_t port);
  uint16_t port() const { return port_; }
  int fd() const { return fd_.get(); }
  // Blocks for the first client; the listener moves into the Connection.
  Expected<Connection> accept_client() &&;

 private:
  GdbListener(ScopedFd fd, uint16_t port) : fd_(std::move(fd)), port_(port) {}
  ScopedFd fd_;
  uint16_t port_ = 0;
};

// What read_event() gives back.
struct ConnectionEvent {
  enum class Kind : uint8_t { kPacket, kInterrupt, kDisconnected };
  Kind kind = Kind::kPacket;
  std::string payload;
};

class Connection {
 public:
  // Serves `client`; when `listener` is valid, later clients are refused.
  explicit Connection(ScopedFd client, ScopedFd listener = ScopedFd());

  // Blocks until a packet or Ctrl-C arrives, or gdb goes away. Acknowledges
  // packets (or asks for them again) unless in no-ack mode.
  Expected<ConnectionEvent> read_event();
  // Frames and sends `payload`; in ack mode waits for '+', resending on '-'.
  Status send_packet(std::string_view payload);
  // Non-blocking: has gdb sent Ctrl-C? Also true once gdb has disconnected,
  // so a running target stops and the server loop sees the disconnect.
  bool poll_interrupt();

  void set_no_ack(bool no_ack);
  bool no_ack() const { return decoder_.no_ack(); }
  bool disconnected() const { return eof_; }

 private:
  // Reads what is available; blocks first when `blocking`. Returns false at EOF.
  Expected<bool> fill(bool blocking);
  void refuse_new_clients();
  std::optional<PacketEvent> next_event();  // queued first, then the decoder
  Status write_all(std::string_view bytes);
  Status wait_for_ack(std::string_view frame);

  ScopedFd fd_;
  ScopedFd listener_;
  PacketDecoder decoder_;
  std::deque<PacketEvent> pending_;  // events read while waiting for an ack
  bool eof_ = false;
};

}  // namespace rrl::gdb
