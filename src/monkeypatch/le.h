// Little-endian reads and writes on byte buffers (internal to monkeypatch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rrl::monkeypatch {

inline uint64_t read_le(std::span<const uint8_t> bytes, size_t pos, size_t size) {
  uint64_t value = 0;
  for (size_t i = size; i-- > 0;) value = (value << 8) | bytes[pos + i];
  return value;
}

inline int32_t read_le_i32(std::span<const uint8_t> bytes, size_t pos) {
  return static_cast<int32_t>(static_cast<uint32_t>(read_le(bytes, pos, 4)));
}

inline void write_le(uint8_t* out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

inline void append_le(std::vector<uint8_t>& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace rrl::monkeypatch
