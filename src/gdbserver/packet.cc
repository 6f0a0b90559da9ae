// Packet framing and hex helpers of the remote serial protocol. See packet.h.
#include "gdbserver/packet.h"

namespace rrl::gdb {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
// A packet that never ends must not grow without bound.
constexpr size_t kMaxPacketBytes = 1 << 20;

bool needs_escape(char c) {
  return c == '$' || c == '#' || c == '}' || c == '*';
}

}  // namespace

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint8_t packet_checksum(std::string_view raw) {
  uint8_t sum = 0;
  for (char c : raw) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  return sum;
}

std::string encode_packet(std::string_view payload) {
  std::string body;
  body.reserve(payload.size() + 8);
  for (char c : payload) {
    if (needs_escape(c)) {
      body.push_back('}');
      body.push_back(static_cast<char>(c ^ 0x20));
    } else {
      body.push_back(c);
    }
  }
  uint8_t sum = packet_checksum(body);
  std::string out = "$";
  out += body;
  out.push_back('#');
  out.push_back(kHexDigits[sum >> 4]);
  out.push_back(kHexDigits[sum & 0xf]);
  return out;
}

std::optional<std::string> decode_payload(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '}') {
      if (++i == raw.size()) return std::nullopt;
      out.push_back(static_cast<char>(raw[i] ^ 0x20));
    } else if (c == '*') {
      // "X*n": repeat the previous character n - 29 more times.
      if (out.empty() || ++i == raw.size()) return std::nullopt;
      int count = static_cast<uint8_t>(raw[i]) - 29;
      if (count < 0) return std::nullopt;
      out.append(static_cast<size_t>(count), out.back());
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void PacketDecoder::feed(std::span<const uint8_t> bytes) {
  compact();
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void PacketDecoder::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

void PacketDecoder::compact() {
  if (pos_ == 0) return;
  buffer_.erase(0, pos_);
  pos_ = 0;
}

std::optional<PacketEvent> PacketDecoder::next() {
  using Kind = PacketEvent::Kind;
  while (pos_ < buffer_.size()) {
    char c = buffer_[pos_];
    switch (c) {
      case '+':
        ++pos_;
        return PacketEvent{Kind::kAck, {}};
      case '-':
        ++pos_;
        return PacketEvent{Kind::kNak, {}};
      case '\x03':
        ++pos_;
        return PacketEvent{Kind::kInterrupt, {}};
      case '$':
        return next_packet();
      default:
        ++pos_;  // noise between packets
    }
  }
  return std::nullopt;
}

// buffer_[pos_] is '$'. Returns nullopt while the packet is incomplete.
std::optional<PacketEvent> PacketDecoder::next_packet() {
  using Kind = PacketEvent::Kind;
  size_t start = pos_ + 1;
  size_t end = start;
  while (end < buffer_.size() && buffer_[end] != '#') {
    if (buffer_[end] == '$') {
      // A new start inside a packet: the earlier one was cut short.
      pos_ = end;
      return next_packet();
    }
    ++end;
  }
  // Need '#' and both checksum digits.
  if (end + 3 > buffer_.size()) {
    if (buffer_.size() - pos_ > kMaxPacketBytes) {
      pos_ = buffer_.size();
      return PacketEvent{Kind::kNakNeeded, {}};
    }
    return std::nullopt;
  }
  std::string_view raw(buffer_.data() + start, end - start);
  int hi = hex_digit_value(buffer_[end + 1]);
  int lo = hex_digit_value(buffer_[end + 2]);
  pos_ = end + 3;
  bool sum_ok = hi >= 0 && lo >= 0 && packet_checksum(raw) == ((hi << 4) | lo);
  if (!sum_ok && !no_ack_) return PacketEvent{Kind::kNakNeeded, {}};
  auto payload = decode_payload(raw);
  if (!payload) return PacketEvent{Kind::kNakNeeded, {}};
  return PacketEvent{Kind::kPacket, std::move(*payload)};
}

std::string hex_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

std::string hex_encode(std::string_view text) {
  return hex_encode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::optional<std::vector<uint8_t>> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit_value(hex[i]);
    int lo = hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return out;
}

std::optional<std::string> hex_decode_text(std::string_view hex) {
  auto bytes = hex_decode(hex);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

std::string hex_encode_le(uint64_t value, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

std::optional<uint64_t> parse_hex_u64(std::string_view hex) {
  if (hex.empty()) return std::nullopt;
  while (hex.size() > 16 && hex.front() == '0') hex.remove_prefix(1);
  if (hex.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : hex) {
    int d = hex_digit_value(c);
    if (d < 0) return std::nullopt;
    value = (value << 4) | static_cast<uint64_t>(d);
  }
  return value;
}

std::string hex_u64(uint64_t value) {
  if (value == 0) return "0";
  std::string out;
  while (value != 0) {
    out.insert(out.begin(), kHexDigits[value & 0xf]);
    value >>= 4;
  }
  return out;
}

}  // namespace rrl::gdb
