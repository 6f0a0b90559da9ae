// Packet codec of the GDB remote serial protocol: framing ("$payload#cs"),
// checksums, '}' escapes, run-length decoding, the out-of-band bytes ('+', '-',
// Ctrl-C), and hex helpers. Pure byte manipulation: no sockets here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rrl::gdb {

// One complete thing read from gdb.
struct PacketEvent {
  enum class Kind : uint8_t {
    kPacket,     // a payload (checksum verified, or not checked in no-ack mode)
    kNakNeeded,  // a packet arrived damaged: reply '-' so gdb sends it again
    kInterrupt,  // Ctrl-C (0x03) outside a packet
    kAck,        // '+'
    kNak,        // '-'
  };
  Kind kind = Kind::kPacket;
  std::string payload;  // decoded (unescaped, run-length expanded) for kPacket
};

// Incremental decoder: feed() whatever the socket returned, then call next()
// until it yields nothing. Bytes outside packets other than '+', '-' and 0x03
// are skipped.
class PacketDecoder {
 public:
  void feed(std::span<const uint8_t> bytes);
  void feed(std::string_view bytes);
  std::optional<PacketEvent> next();
  // In no-ack mode checksums are not verified (the transport is reliable).
  void set_no_ack(bool no_ack) { no_ack_ = no_ack; }
  bool no_ack() const { return no_ack_; }
  // Bytes buffered but not yet forming a complete event.
  size_t pending_bytes() const { return buffer_.size() - pos_; }

 private:
  std::optional<PacketEvent> next_packet();
  void compact();

  std::string buffer_;
  size_t pos_ = 0;
  bool no_ack_ = false;
};

// Sum of the bytes modulo 256.
uint8_t packet_checksum(std::string_view raw);
// "$" + escaped payload + "#" + two hex digits. Escapes '$', '#', '}' and '*'
// so that binary data (qXfer, X) survives; never run-length encodes.
std::string encode_packet(std::string_view payload);
// Undo '}' escapes and '*' run-length encoding of a raw payload (between '$'
// and '#'). nullopt when malformed (dangling escape, bad repeat count).
std::optional<std::string> decode_payload(std::string_view raw);

// Hex helpers. Lower-case output.
std::string hex_encode(std::span<const uint8_t> bytes);
std::string hex_encode(std::string_view text);
std::optional<std::vector<uint8_t>> hex_decode(std::string_view hex);
std::optional<std::string> hex_decode_text(std::string_view hex);
// Little-endian bytes of an integer, hex encoded (size in bytes, 1..8).
std::string hex_encode_le(uint64_t value, size_t size);
// A big-endian hex number as gdb writes addresses and lengths ("7ffe0", no
// prefix). Empty or non-hex or overflowing input gives nullopt.
std::optional<uint64_t> parse_hex_u64(std::string_view hex);
std::string hex_u64(uint64_t value);  // shortest form, "0" for zero
int hex_digit_value(char c);          // -1 when not a hex digit

}  // namespace rrl::gdb
