// Outputs of file, directory and I/O syscalls: reads into buffers, stat
// structures, directory entries, xattrs, pipes, offsets, fd readiness (poll,
// select, epoll), AIO and message queues.
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "common/syscall_table.h"

namespace rrl::syscalls::detail {
namespace {

// Kernel ABI sizes on x86-64 (glibc's structs mirror the kernel's here).
constexpr uint64_t kStatSize = 144;    // struct stat
constexpr uint64_t kStatxSize = 256;   // struct statx
constexpr uint64_t kStatfsSize = 120;  // struct statfs
constexpr uint64_t kUstatSize = 32;    // struct ustat
constexpr uint64_t kIoEventSize = 32;  // struct io_event
constexpr uint64_t kIoUringParamsSize = 120;
constexpr uint64_t kMqAttrSize = 64;     // struct mq_attr
constexpr uint64_t kCachestatSize = 40;  // struct cachestat
constexpr uint64_t kTimespecSize = 16;
constexpr uint64_t kPollfdSize = 8;
constexpr uint64_t kEpollEventSize = 12;  // packed on x86-64
constexpr uint64_t kMaxHandleSize = 128;  // MAX_HANDLE_SZ
static_assert(sizeof(struct stat) == kStatSize);
static_assert(sizeof(struct statx) == kStatxSize);
static_assert(sizeof(struct statfs) == kStatfsSize);
static_assert(sizeof(struct epoll_event) == kEpollEventSize);

// Syscalls newer than the build machine's <sys/syscall.h>; numbers are ABI.
constexpr int64_t kSysCachestat = 451;
constexpr int64_t kSysStatmount = 457;
constexpr int64_t kSysListmount = 458;
constexpr int64_t kSysGetxattrat = 464;
constexpr int64_t kSysListxattrat = 465;
constexpr int64_t kSysFileGetattr = 468;

void iovecs(Call& c) {
  add_iovecs(c, c.arg(1), c.arg(2), c.result_len());
}

void two_offsets(Call& c) {  // copy_file_range, splice: loff_t* at args 1 and 3
  c.add(c.arg(1), 8);
  c.add(c.arg(3), 8);
}

// struct file_handle { u32 handle_bytes; int handle_type; u8 f_handle[]; }.
// A too-small buffer fails with EOVERFLOW after the kernel stored the size it
// needs in handle_bytes, which is how programs size the buffer.
void name_to_handle_at(Call& c) {
  constexpr uint64_t kHandleMntIdUnique = 1;  // mount id is then a u64
  if (c.result() == -EOVERFLOW) {
    c.add(c.arg(2), 4);
    return;
  }
  if (c.result() != 0) return;
  auto bytes = c.read<uint32_t>(c.arg(2));
  if (!bytes) return c.unknown();
  c.add(c.arg(2), 8 + std::min<uint64_t>(*bytes, kMaxHandleSize));
  c.add(c.arg(3), (c.arg(4) & kHandleMntIdUnique) ? 8 : 4);
}

void mq_timedreceive(Call& c) {
  c.add(c.arg(1), c.result_len());
  c.add(c.arg(3), 4);  // unsigned int* msg_prio
}

void msgrcv(Call& c) {  // struct msgbuf { long mtype; char mtext[]; }
  c.add(c.arg(1), 8 + c.result_len());
}

// getxattrat(dfd, path, at_flags, name, struct xattr_args* args, size):
// the value buffer is named inside xattr_args { u64 value; u32 size; u32 flags; }.
void getxattrat(Call& c) {
  auto value = c.read<uint64_t>(c.arg(4));
  if (!value) return c.unknown();
  c.add(*value, c.result_len());
}

void io_getevents(Call& c) {
  c.add(c.arg(3), c.result_len() * kIoEventSize);
}

// fd_set outputs of select: nfds bits, in whole longs.
void add_fd_sets(Call& c) {
  uint64_t nfds = c.arg(0) & 0xffffffff;  // an int for the kernel
  uint64_t bytes = (nfds / 64 + (nfds % 64 != 0)) * 8;
  for (size_t i = 1; i <= 3; ++i) c.add(c.arg(i), bytes);
}

// select and pselect6 store the remaining time at arg 4 (a timeval or a
// timespec, 16 bytes either way), also when a signal interrupted them.
void select(Call& c) {
  add_fd_sets(c);
  c.add(c.arg(4), kTimespecSize);
}

// poll stores revents even when interrupted; ppoll also the remaining time.
void poll(Call& c) {
  c.add(c.arg(0), c.arg(1) * kPollfdSize);
}
void ppoll(Call& c) {
  poll(c);
  c.add(c.arg(2), kTimespecSize);
}

void epoll_wait(Call& c) {
  c.add(c.arg(1), c.result_len() * kEpollEventSize);
}

// AIO and io_uring complete into user buffers after the syscall returned; a
// per-syscall table cannot say when or where.
void asynchronous(Call& c) {
  c.unknown();
}

constexpr auto kEntries = std::to_array<Entry>({
    {SYS_read, result_bytes<1>},
    {SYS_pread64, result_bytes<1>},
    {SYS_readv, iovecs},
    {SYS_preadv, iovecs},
    {SYS_preadv2, iovecs},
    // vmsplice into a pipe only reads the iovecs; from a pipe it fills them.
    {SYS_vmsplice, iovecs},
    {SYS_stat, fixed<1, kStatSize>},
    {SYS_fstat, fixed<1, kStatSize>},
    {SYS_lstat, fixed<1, kStatSize>},
    {SYS_newfstatat, fixed<2, kStatSize>},
    {SYS_statx, fixed<4, kStatxSize>},
    {SYS_statfs, fixed<1, kStatfsSize>},
    {SYS_fstatfs, fixed<1, kStatfsSize>},
    {SYS_ustat, fixed<1, kUstatSize>},
    {SYS_getdents, result_bytes<1>},
    {SYS_getdents64, result_bytes<1>},
    {SYS_readlink, result_bytes<1>},
    {SYS_readlinkat, result_bytes<2>},
    {SYS_getcwd, result_bytes<0>},  // the result counts the terminating NUL
    {SYS_pipe, fixed<0, 8>},
    {SYS_pipe2, fixed<0, 8>},
    {SYS_getxattr, result_bytes<2>},
    {SYS_lgetxattr, result_bytes<2>},
    {SYS_fgetxattr, result_bytes<2>},
    {SYS_listxattr, result_bytes<1>},
    {SYS_llistxattr, result_bytes<1>},
    {SYS_flistxattr, result_bytes<1>},
    {kSysGetxattrat, getxattrat},
    {kSysListxattrat, result_bytes<3>},
    {SYS_sendfile, fixed<2, 8>},  // loff_t* offset, advanced by the kernel
    {SYS_copy_file_range, two_offsets},
    {SYS_splice, two_offsets},
    {SYS_select, select, When::kOnInterrupt},
    {SYS_pselect6, select, When::kOnInterrupt},
    {SYS_poll, poll, When::kOnInterrupt},
    {SYS_ppoll, ppoll, When::kOnInterrupt},
    {SYS_epoll_wait, epoll_wait},
    {SYS_epoll_pwait, epoll_wait},
    {SYS_epoll_pwait2, epoll_wait},
    {SYS_name_to_handle_at, name_to_handle_at, When::kAlways},
    {SYS_getrandom, result_bytes<0>},
    {SYS_io_setup, fixed<1, 8>},  // aio_context_t*
    {SYS_io_getevents, io_getevents},
    {SYS_io_pgetevents, io_getevents},
    {SYS_io_cancel, fixed<2, kIoEventSize>},
    {SYS_io_submit, asynchronous},
    {SYS_io_uring_setup, fixed<1, kIoUringParamsSize>},
    {SYS_io_uring_enter, asynchronous},
    {SYS_io_uring_register, asynchronous},
    {SYS_mq_timedreceive, mq_timedreceive},
    {SYS_mq_getsetattr, fixed<2, kMqAttrSize>},
    {SYS_msgrcv, msgrcv},
    {kSysCachestat, fixed<2, kCachestatSize>},
    {kSysStatmount, [](Call& c) { c.add(c.arg(1), c.arg(2)); }},            // buf, bufsize
    {kSysListmount, [](Call& c) { c.add(c.arg(1), c.result_len() * 8); }},  // u64 ids
    {kSysFileGetattr, [](Call& c) { c.add(c.arg(2), c.arg(3)); }},          // fattr, usize
});

}  // namespace

std::span<const Entry> fs_entries() {
  return kEntries;
}

}  // namespace rrl::syscalls::detail
