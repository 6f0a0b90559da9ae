// An address inside a tracee. Never dereferenced locally.
#pragma once

#include <compare>
#include <cstdint>

namespace rrl {

template <typename T>
class RemotePtr {
 public:
  constexpr RemotePtr() = default;
  constexpr explicit RemotePtr(uint64_t addr) : addr_(addr) {}
  constexpr uint64_t addr() const { return addr_; }
  constexpr bool null() const { return addr_ == 0; }
  constexpr RemotePtr operator+(uint64_t n) const { return RemotePtr(addr_ + n * sizeof_t()); }
  template <typename U>
  constexpr RemotePtr<U> cast() const {
    return RemotePtr<U>(addr_);
  }
  constexpr auto operator<=>(const RemotePtr&) const = default;

 private:
  static constexpr uint64_t sizeof_t() {
    if constexpr (requires { sizeof(T); })
      return sizeof(T);
    else
      return 1;
  }
  uint64_t addr_ = 0;
};

using RemoteAddr = RemotePtr<void>;

}  // namespace rrl
