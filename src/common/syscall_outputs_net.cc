// Outputs of socket syscalls. The interesting ones (recvmsg, recvmmsg) write
// through pointers stored in tracee memory; the kernel updates msg_namelen and
// msg_controllen before returning, so reading the msghdr at exit tells how
// much of each buffer was filled.
#include <sys/socket.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <cstddef>

#include "common/syscall_table.h"

namespace rrl::syscalls::detail {
namespace {

// struct msghdr as the x86-64 kernel lays it out.
struct Msghdr {
  uint64_t name;
  uint32_t namelen;
  uint32_t pad0;
  uint64_t iov;
  uint64_t iovlen;
  uint64_t control;
  uint64_t controllen;
  int32_t flags;
  int32_t pad1;
};
static_assert(sizeof(Msghdr) == sizeof(struct msghdr));
static_assert(offsetof(Msghdr, namelen) == offsetof(struct msghdr, msg_namelen));
static_assert(offsetof(Msghdr, iovlen) == offsetof(struct msghdr, msg_iovlen));
static_assert(offsetof(Msghdr, controllen) == offsetof(struct msghdr, msg_controllen));

constexpr uint64_t kMsghdrSize = sizeof(Msghdr);
constexpr uint64_t kMmsghdrSize = 64;  // struct mmsghdr: msghdr + u32 msg_len + padding
constexpr uint64_t kMsgLenOffset = 56;
static_assert(sizeof(struct mmsghdr) == kMmsghdrSize);
static_assert(offsetof(struct mmsghdr, msg_len) == kMsgLenOffset);

// A sockaddr output with its socklen_t* length: the kernel stores the full
// address length in *addrlen but copies at most the caller's buffer size.
// That size is gone at exit, so the copy is bounded by sockaddr_storage.
void add_sockaddr(Call& c, uint64_t addr, uint64_t addrlen_ptr) {
  if (addrlen_ptr == 0) return;
  c.add(addrlen_ptr, 4);
  if (addr == 0) return;
  auto len = c.read<uint32_t>(addrlen_ptr);
  if (!len) return c.unknown();
  c.add(addr, std::min<uint64_t>(*len, kSockaddrMax));
}

// A msghdr the kernel filled for a message of `data_len` bytes.
void add_msghdr(Call& c, uint64_t msg_addr, uint64_t data_len) {
  c.add(msg_addr, kMsghdrSize);
  auto msg = c.read<Msghdr>(msg_addr);
  if (!msg) return c.unknown();
  c.add(msg->name, std::min<uint64_t>(msg->namelen, kSockaddrMax));
  add_iovecs(c, msg->iov, msg->iovlen, data_len);
  c.add(msg->control, msg->controllen);
}

void recvfrom(Call& c) {  // (fd, buf, len, flags, src_addr, addrlen)
  c.add(c.arg(1), c.result_len());
  add_sockaddr(c, c.arg(4), c.arg(5));
}

void recvmsg(Call& c) {
  add_msghdr(c, c.arg(1), c.result_len());
}

// recvmmsg(fd, msgvec, vlen, flags, timeout): the result counts the messages
// received; each one's msg_len says how many bytes it holds. The kernel also
// stores the remaining timeout.
void recvmmsg(Call& c) {
  uint64_t count = c.result_len();
  if (count > kIovMax) return c.unknown();  // the kernel caps vlen at UIO_MAXIOV
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t entry = c.arg(1) + i * kMmsghdrSize;
    auto msg_len = c.read<uint32_t>(entry + kMsgLenOffset);
    if (!msg_len) return c.unknown();
    add_msghdr(c, entry, *msg_len);
    c.add(entry + kMsgLenOffset, 4);
  }
  c.add(c.arg(4), 16);
}

// sendmmsg(fd, msgvec, vlen, flags) stores msg_len of each message sent.
void sendmmsg(Call& c) {
  uint64_t count = std::min(c.result_len(), kIovMax);
  for (uint64_t i = 0; i < count; ++i) c.add(c.arg(1) + i * kMmsghdrSize + kMsgLenOffset, 4);
}

void accept(Call& c) {
  add_sockaddr(c, c.arg(1), c.arg(2));
}

// getsockopt(fd, level, optname, optval, optlen): *optlen is the length written.
void getsockopt(Call& c) {
  if (c.arg(4) == 0) return;
  c.add(c.arg(4), 4);
  auto len = c.read<uint32_t>(c.arg(4));
  if (!len) return c.unknown();
  c.add(c.arg(3), *len);
}

constexpr auto kEntries = std::to_array<Entry>({
    {SYS_recvfrom, recvfrom},
    {SYS_recvmsg, recvmsg},
    {SYS_recvmmsg, recvmmsg},
    {SYS_sendmmsg, sendmmsg},
    {SYS_accept, accept},
    {SYS_accept4, accept},
    {SYS_getsockname, accept},
    {SYS_getpeername, accept},
    {SYS_getsockopt, getsockopt},
    {SYS_socketpair, fixed<3, 8>},  // int sv[2]
});

}  // namespace

std::span<const Entry> net_entries() {
  return kEntries;
}

}  // namespace rrl::syscalls::detail
