/* The preload code: the buffered path of patched syscall sites.
 *
 * This file is compiled freestanding (no libc, no SSE, no jump tables, no
 * stack protector) into its own section, which the recorder copies into every
 * recorded address space at RRL_PRELOAD_BASE. Everything here must therefore
 * be position independent and self-contained: static functions only, no data
 * outside the stack and the buffer.
 *
 * A patched site jumps to a per-site stub (written by the recorder), which
 * calls rrl_syscall_entry with the syscall number in rax and the arguments in
 * their registers. rrl_buffered() decides: a syscall whose memory effects it
 * can describe is made through rrl_untraced (the one syscall instruction the
 * seccomp filter lets through without a ptrace stop) and appended to the
 * buffer with the memory it wrote; anything else returns to the entry, which
 * makes the syscall from its own, traced, syscall instruction. A buffered
 * syscall may block (futex, a read on a pipe, poll, accept, ...): then the
 * recorder takes it back (RRL_SYSCALL_ABORTED) and it goes the traced way.
 * An openat is buffered when it cannot wait (only opening a FIFO or a device
 * can): see open_may_wait. */
#include <stddef.h>
#include <sys/syscall.h>

/* From <fcntl.h>, which pulls in libc declarations we do not want here. */
enum { F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030 };

#include "preload/preload_interface.h"

#define RRL_CODE __attribute__((section("rrl_preload_text"), used))

/* Assembly parts (below): entry from the stubs and the untraced syscall. */
long rrl_untraced(const long* frame) __attribute__((visibility("hidden")));

enum {
  kStatSize = 144,
  kEpollEventSize = 12,
  kMsgTrunc = 0x20,
  kMsgDontwait = 0x40,
  kRwfNowait = 8,
  kEagain = 11,
};
enum { kUtsnameSize = 390, kSysinfoSize = 112, kRusageSize = 144 };
enum { kSigsetSize = 8, kKernelSigactionSize = 32, kSigBlock = 0 };
enum { kStatModeOffset = 24, kIfmt = 0170000, kIfreg = 0100000, kIfdir = 0040000 };
/* From <fcntl.h> and <linux/fs.h>, for the same reason. */
enum {
  kOCreat = 0100,
  kOExcl = 0200,
  kONonblock = 04000,
  kODirectory = 0200000,
  kONofollow = 0400000,
  kOPath = 010000000,
  kAtSymlinkNofollow = 0x100,
  kENoent = 2,
};
#define RRL_FICLONE 0x40049409UL
/* From <sys/mman.h>. */
enum { kMapShared = 0x01, kMapFixed = 0x10, kMapAnonymous = 0x20 };
/* From <sys/mman.h> (Linux 5.14). */
enum { kMadvPopulateWrite = 23 };
/* populate_ahead: from this offset of the buffer on, in steps of this. */
enum { kPopulateFrom = 0x8000, kPopulateStep = 0x40000 };
/* From <asm/prctl.h>. */
enum { kArchSetFs = 0x1002 };
/* From <linux/futex.h>. */
enum {
  kFutexWait = 0,
  kFutexWake = 1,
  kFutexRequeue = 3,
  kFutexCmpRequeue = 4,
  kFutexWaitBitset = 9,
  kFutexWakeBitset = 10,
  kFutexPrivate = 128,
  kFutexClockRealtime = 256,
  kWaitAbortLimit = 4,
  kWaitRetryEvery = 64,
};

/* Eight bytes a step where it can: a task that a time slice stops in here is
 * single-stepped out (recorder/syscallbuf.cc, step_out_of_preload), and a
 * 256 KiB read copied a byte at a time took more than a million steps. */
RRL_CODE static void copy_bytes(volatile unsigned char* to, const volatile unsigned char* from,
                                uint64_t n) {
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8)
    *(volatile uint64_t*)(to + i) = *(const volatile uint64_t*)(from + i);
  for (; i < n; ++i) to[i] = from[i];
}

RRL_CODE static uint64_t round8(uint64_t n) {
  return (n + 7) & ~7ULL;
}

/* Room for a record with `len` bytes of output, or 0 (then the next entry
 * moves to the other half, after the recorder has flushed this one). */
RRL_CODE static struct rrl_record* reserve(uint64_t len) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  uint64_t need = sizeof(struct rrl_record) + round8(len);
  if (h->pos + need > RRL_HALF_SIZE) {
    h->wrap_pending = 1;
    return 0;
  }
  return (struct rrl_record*)(RRL_BUFFER_ADDR + sizeof(struct rrl_buffer_header) + h->half +
                              h->pos);
}

/* How much of an output area a result says was written. */
enum OutRule {
  kOutOnZero,    /* all of it when the result is 0 (clock_gettime, fstat) */
  kOutOnSuccess, /* all of it unless the result is an error (time, poll) */
  kOutResult,    /* result * unit bytes, at most all of it (read, epoll_wait) */
  kOutSockaddr,  /* a socket address: as many bytes as the length the kernel
                    put at len_at says, at most all of it, on success */
};

/* One memory area a syscall may write: at most `max` bytes at `addr`. */
struct Out {
  uint64_t addr;
  uint64_t max;
  uint64_t unit;   /* kOutResult */
  uint64_t len_at; /* kOutSockaddr: address of the socklen_t */
  enum OutRule rule;
};

RRL_CODE static int is_error(long r) {
  return r < 0 && r >= -4095;
}

RRL_CODE static uint64_t written(const struct Out* o, long result) {
  if (!o->addr) return 0;
  uint64_t n = 0;
  switch (o->rule) {
    case kOutOnZero:
      n = result == 0 ? o->max : 0;
      break;
    case kOutOnSuccess:
      n = is_error(result) ? 0 : o->max;
      break;
    case kOutResult:
      n = result > 0 ? (uint64_t)result * o->unit : 0;
      break;
    case kOutSockaddr:
      n = is_error(result) ? 0 : *(volatile uint32_t*)o->len_at;
      break;
  }
  return n < o->max ? n : o->max;
}

/* Makes the syscall of frame (nr, then 6 arguments) untraced and appends it
 * with what it wrote to the `n` areas of `outs`. 0: not buffered, because
 * the buffer is full or the recorder took the syscall back
 * (RRL_SYSCALL_ABORTED: the reserved record is simply never written). */
RRL_CODE static int buffer_call(long* frame, const struct Out* outs, int n) {
  uint64_t need = 0;
  for (int i = 0; i < n; ++i) need += outs[i].addr ? outs[i].max : 0;
  struct rrl_record* rec = reserve(need);
  if (!rec) return 0;
  long result = rrl_untraced(frame);
  if (result == RRL_SYSCALL_ABORTED) return 0;
  rec->syscallno = frame[0];
  for (int i = 0; i < 6; ++i) rec->args[i] = (uint64_t)frame[i + 1];
  rec->result = result;
  unsigned char* data = (unsigned char*)(rec + 1);
  uint64_t total = 0;
  for (int i = 0; i < RRL_OUT_AREAS; ++i) {
    uint64_t len = i < n ? written(&outs[i], result) : 0;
    rec->out_addr[i] = len ? outs[i].addr : 0;
    rec->out_len[i] = len;
    copy_bytes(data + total, (const unsigned char*)rec->out_addr[i], len);
    total += len;
  }
  rec->size = sizeof(struct rrl_record) + round8(total);
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  h->pos += rec->size;
  h->count++;
  frame[0] = result;
  return 1;
}

RRL_CODE static int buffer_plain(long* frame) {
  return buffer_call(frame, 0, 0);
}

RRL_CODE static int buffer_one(long* frame, uint64_t addr, uint64_t max, enum OutRule rule,
                               uint64_t unit) {
  struct Out o = {addr, max, unit, 0, rule};
  return buffer_call(frame, &o, 1);
}

/* Futex operations that write no memory (the PI and WAKE_OP ones do). */
RRL_CODE static int plain_futex_op(uint64_t op) {
  uint64_t cmd = op & ~(uint64_t)(kFutexPrivate | kFutexClockRealtime);
  return cmd == kFutexWait || cmd == kFutexWake || cmd == kFutexRequeue ||
         cmd == kFutexCmpRequeue || cmd == kFutexWaitBitset || cmd == kFutexWakeBitset;
}

RRL_CODE static int futex_wait_op(uint64_t op) {
  uint64_t cmd = op & ~(uint64_t)(kFutexPrivate | kFutexClockRealtime);
  return cmd == kFutexWait || cmd == kFutexWaitBitset;
}

/* A futex wait. Only one task runs at a time, so a wait whose waker is
 * another recorded task nearly always blocks, and taking it back costs more
 * than the traced path. After kWaitAbortLimit waits in a row were taken
 * back, waits go the traced way at once, trying the buffered way again
 * every kWaitRetryEvery-th time (a wait that did not block resets it). */
RRL_CODE static int buffer_wait(long* frame) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  if (h->wait_aborts >= kWaitAbortLimit && ++h->wait_skips % kWaitRetryEvery != 0) return 0;
  uint64_t epoch = h->epoch, pos = h->pos;
  if (buffer_plain(frame)) {
    h->wait_aborts = 0;
    return 1;
  }
  /* Not buffered: taken back, or the buffer was full (then it wraps). */
  if (!h->wrap_pending && h->epoch == epoch && h->pos == pos && h->wait_aborts < kWaitAbortLimit)
    h->wait_aborts++;
  return 0;
}

/* The socket address a syscall returns at addr, with its length at len_at
 * (accept, recvfrom): areas out[0] (the length) and out[1] (the address).
 * Returns how many areas, or -1 when the call must take the traced path. */
RRL_CODE static int sockaddr_outs(uint64_t addr, uint64_t len_at, struct Out* out) {
  if (!addr) return 0;
  if (!len_at) return -1;
  uint64_t room = *(volatile uint32_t*)len_at;
  if (room > 4096) return -1;
  struct Out len = {len_at, 4, 1, 0, kOutOnSuccess};
  struct Out sa = {addr, room, 1, len_at, kOutSockaddr};
  out[0] = len;
  out[1] = sa;
  return 2;
}

/* A read that cannot block: preadv2 with RWF_NOWAIT (pipes,
 * sockets, and regular files whose data is in the page cache). 1: done, the
 * result in frame[0]; 0: nothing there now, take the traced path (which
 * waits); -1: the file cannot do it (a tty): make the call itself. */
/* Whether [addr, addr + len) touches the preload code, stubs or buffer. */
RRL_CODE static int overlaps_preload(uint64_t addr, uint64_t len) {
  return addr < RRL_PRELOAD_END && addr + len > RRL_PRELOAD_BASE;
}

RRL_CODE static int read_nowait(long* frame) {
  struct {
    uint64_t base, len;
  } iov = {(uint64_t)frame[2], (uint64_t)frame[3]};
  long nowait[7] = {SYS_preadv2, frame[1],  (long)&iov, 1, -1 /* the file position */,
                    0,           kRwfNowait};
  if (!buffer_one(nowait, iov.base, iov.len, kOutResult, 1)) return 0;
  if (nowait[0] == -kEagain) return 0;
  if (is_error(nowait[0])) return -1; /* the plain call gives its own error */
  frame[0] = nowait[0];
  return 1;
}

/* Syscalls that may block. The recorder notices when one does (or when a
 * signal comes for it) and takes it back (RRL_SYSCALL_ABORTED); it is then
 * made again through ptrace. Taking back is harmless because a syscall that
 * the kernel ends with ERESTART* or EINTR has had no effect. */
RRL_CODE static int buffered_may_block(long* frame) {
  long nr = frame[0];
  uint64_t a0 = (uint64_t)frame[1], a1 = (uint64_t)frame[2], a2 = (uint64_t)frame[3];
  uint64_t a3 = (uint64_t)frame[4], a4 = (uint64_t)frame[5], a5 = (uint64_t)frame[6];
  struct Out outs[RRL_OUT_AREAS];
  switch (nr) {
    case SYS_pread64:
      /* Only seekable files have it: regular files and block devices, which
       * never wait for another task (and a slow disk or network file system
       * is noticed like any blocked call). preadv2 with RWF_NOWAIT would cost
       * more, and send reads of data not yet cached the traced way. */
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a1, a2, kOutResult, 1);
    case SYS_read: {
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      int done = read_nowait(frame);
      if (done >= 0) return done;
      return buffer_one(frame, a1, a2, kOutResult, 1); /* a tty, say: it may block */
    }
    case SYS_write:
    case SYS_pwrite64:
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_plain(frame);
    case SYS_writev:
    case SYS_sendto:
    case SYS_sendmsg:
      return buffer_plain(frame);
    case SYS_futex:
      if (!plain_futex_op(a1)) return 0;
      return futex_wait_op(a1) ? buffer_wait(frame) : buffer_plain(frame);
    case SYS_ppoll:
      if (a2 != 0) return 0; /* it would write the time left to *tsp */
      /* fall through */
    case SYS_poll:
      if (a1 > RRL_MAX_BUFFERED_IO / 8) return 0;
      return buffer_one(frame, a0, a1 * 8, kOutOnSuccess, 1); /* the revents */
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
      if (a2 > RRL_MAX_BUFFERED_IO / kEpollEventSize) return 0;
      return buffer_one(frame, a1, a2 * kEpollEventSize, kOutResult, kEpollEventSize);
    case SYS_accept:
    case SYS_accept4: {
      int n = sockaddr_outs(a1, a2, outs);
      return n < 0 ? 0 : buffer_call(frame, outs, n);
    }
    case SYS_getrandom:
      /* Waits only until the kernel's pool is ready, early at boot. */
      if (a1 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a0, a1, kOutResult, 1);
    case SYS_recvfrom: {
      /* MSG_TRUNC on a stream socket discards the data it counts. */
      if (a2 > RRL_MAX_BUFFERED_IO || (a3 & kMsgTrunc)) return 0;
      struct Out data = {a1, a2, 1, 0, kOutResult};
      outs[0] = data;
      int n = sockaddr_outs(a4, a5, outs + 1);
      if (n < 0) return 0;
      if (a3 & kMsgDontwait) return buffer_call(frame, outs, n + 1);
      /* Without waiting; when nothing is there, the traced call waits. */
      long nowait[7] = {frame[0], frame[1], frame[2], frame[3], (long)(a3 | kMsgDontwait),
                        frame[5], frame[6]};
      if (!buffer_call(nowait, outs, n + 1) || nowait[0] == -kEagain) return 0;
      frame[0] = nowait[0];
      return 1;
    }
    default:
      return 0;
  }
}

/* Only opening a FIFO (or some devices) waits. A directory, an O_PATH or an
 * O_NONBLOCK open never does, nor does one that creates a new file
 * (O_CREAT|O_EXCL). Anything else is looked at first, by a buffered
 * newfstatat of the same path: a regular file or a directory cannot make the
 * open wait, and a path that does not exist makes it fail (or, with O_CREAT,
 * create a regular file). A path replaced by a FIFO between the two calls
 * would make the buffered open wait, and the recorder would take it back. */
RRL_CODE static int open_may_wait(long dirfd, uint64_t path, uint64_t flags) {
  if (flags & (kODirectory | kOPath | kONonblock)) return 0;
  if ((flags & (kOCreat | kOExcl)) == (kOCreat | kOExcl)) return 0;
  unsigned char st[kStatSize];
  long frame[7] = {SYS_newfstatat,
                   dirfd,
                   (long)path,
                   (long)st,
                   (flags & kONofollow) ? kAtSymlinkNofollow : 0,
                   0,
                   0};
  if (!buffer_one(frame, (uint64_t)st, kStatSize, kOutOnZero, 1)) return 1;
  if (frame[0] == -kENoent) return 0;
  if (frame[0] != 0) return 1;
  unsigned mode = *(volatile unsigned*)(st + kStatModeOffset) & kIfmt;
  return mode != kIfreg && mode != kIfdir;
}

RRL_CODE static int buffer_openat(long* frame) {
  if (open_may_wait(frame[1], (uint64_t)frame[2], (uint64_t)frame[3])) return 0;
  return buffer_plain(frame);
}

/* A page of the buffer written for the first time costs a page fault, and
 * in some VMs a fault costs 10 us or more (a buffered syscall costs about
 * 0.3 us): 1,024 of them for the whole buffer. Once records reach
 * kPopulateFrom, the pages ahead of them are asked for in kPopulateStep
 * steps by a buffered madvise(MADV_POPULATE_WRITE), about 0.8 us a page.
 * Replay runs that madvise again from its record. Short-lived programs
 * never get that far and pay nothing. */
RRL_CODE static void populate_ahead(struct rrl_buffer_header* h) {
  uint64_t at = sizeof(struct rrl_buffer_header) + h->half + h->pos;
  if (h->populate_refused || at < kPopulateFrom || at + kPopulateStep / 2 < h->populated ||
      h->populated >= RRL_BUFFER_SIZE)
    return;
  uint64_t from = h->populated > at ? h->populated : (at & ~(uint64_t)0xfff);
  uint64_t len = kPopulateStep;
  if (from + len > RRL_BUFFER_SIZE) len = RRL_BUFFER_SIZE - from;
  long frame[7] = {
      SYS_madvise, (long)(RRL_BUFFER_ADDR + from), (long)len, kMadvPopulateWrite, 0, 0, 0};
  if (!buffer_plain(frame)) return; /* the buffer is full, or taken back */
  if (frame[0] == 0)
    h->populated = from + len;
  else
    h->populate_refused = 1; /* an older kernel: EINVAL */
}

/* frame: nr, 6 arguments. Returns 1 with the result in frame[0] when the
 * syscall was made and buffered, 0 for the traced path. */
__attribute__((visibility("hidden"))) RRL_CODE int rrl_buffered(long* frame) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  if (h->wrap_pending) {
    h->pos = 0;
    h->half = h->half ? 0 : RRL_HALF_SIZE;
    h->epoch++;
    h->wrap_pending = 0;
  }
  populate_ahead(h);
  long nr = frame[0];
  uint64_t a0 = (uint64_t)frame[1], a1 = (uint64_t)frame[2], a2 = (uint64_t)frame[3];
  switch (nr) {
    case SYS_clock_gettime:
      return buffer_one(frame, a1, 16, kOutOnZero, 1);
    case SYS_gettimeofday:
      if (a1 != 0) return 0; /* the obsolete timezone: rare, traced */
      return buffer_one(frame, a0, 16, kOutOnZero, 1);
    case SYS_time:
      return buffer_one(frame, a0, 8, kOutOnSuccess, 1);
    case SYS_getdents64:
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a1, a2, kOutResult, 1);
    case SYS_close:
      /* rr-like's own view of stdin/stdout/stderr must stay exact. */
      if ((long)a0 <= 2) return 0;
      h->fd_generation++; /* an fd number may name another file now */
      return buffer_plain(frame);
    case SYS_fcntl:
      /* Only commands that never block (not the F_SETLKW family). */
      if (a1 != F_GETFD && a1 != F_SETFD && a1 != F_GETFL && a1 != F_SETFL && a1 != F_DUPFD &&
          a1 != F_DUPFD_CLOEXEC)
        return 0;
      return buffer_plain(frame);
    case SYS_openat:
      return buffer_openat(frame);
    case SYS_mmap:
      /* Private anonymous memory only: replay maps it again at the recorded
       * address. A file mapping needs the recorder (it saves the file). */
      if (!(frame[4] & kMapAnonymous) || (frame[4] & kMapShared)) return 0;
      if ((frame[4] & kMapFixed) && overlaps_preload(a0, a1)) return 0;
      return buffer_plain(frame);
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_madvise:
      /* Replay runs these again, in the order of their records. The preload
       * area itself is left to the traced path. */
      if (overlaps_preload(a0, a1)) return 0;
      return buffer_plain(frame);
    case SYS_brk:
    case SYS_set_tid_address:
    case SYS_set_robust_list:
      return buffer_plain(frame);
    case SYS_arch_prctl:
      /* Setting the thread pointer, as every thread's start does. */
      if (a0 != kArchSetFs) return 0;
      return buffer_plain(frame);
    case SYS_fadvise64:
    case SYS_unlinkat:
    case SYS_mkdirat:
      return buffer_plain(frame);
    case SYS_ioctl:
      /* A reflink (cp tries one per file). The VFS answers FICLONE itself,
       * whatever the files are: it never reaches a device's ioctl. */
      if (a1 != RRL_FICLONE) return 0;
      return buffer_plain(frame);
    case SYS_fstat:
    case SYS_stat:
    case SYS_lstat:
      return buffer_one(frame, a1, kStatSize, kOutOnZero, 1);
    case SYS_readlink:
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a1, a2, kOutResult, 1);
    case SYS_readlinkat:
      if ((uint64_t)frame[4] > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a2, (uint64_t)frame[4], kOutResult, 1);
    case SYS_getcwd: /* the result is the length written, with the NUL */
      if (a1 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_one(frame, a0, a1, kOutResult, 1);
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_unlink:
    case SYS_rmdir:
    case SYS_mkdir:
    case SYS_rename:
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_chmod:
    case SYS_fchmod:
    case SYS_fchmodat:
    case SYS_utimensat:
      return buffer_plain(frame);
    case SYS_uname:
      return buffer_one(frame, a0, kUtsnameSize, kOutOnZero, 1);
    case SYS_sysinfo:
      return buffer_one(frame, a0, kSysinfoSize, kOutOnZero, 1);
    case SYS_getrusage:
      return buffer_one(frame, a1, kRusageSize, kOutOnZero, 1);
    case SYS_prlimit64:
      /* Reading a limit only: a new one changes what replay must see (the
       * stack limit decides where the stack overflows), so it is traced. */
      if (frame[3] != 0) return 0;
      return buffer_one(frame, (uint64_t)frame[4], 16, kOutOnZero, 1);
    case SYS_rt_sigaction:
      /* Replay runs these two for real (the kernel keeps their state). */
      if (frame[4] != kSigsetSize) return 0;
      return buffer_one(frame, a2, kKernelSigactionSize, kOutOnZero, 1);
    case SYS_rt_sigprocmask:
      /* Only when it cannot unblock anything: a signal it unblocks would be
       * delivered at the untraced syscall's exit, with this call's record
       * not written yet, and the recorder holds such a signal back, which
       * would break "delivered before sigprocmask returns". */
      if (frame[4] != kSigsetSize || (a1 != 0 && a0 != kSigBlock)) return 0;
      return buffer_one(frame, a2, kSigsetSize, kOutOnZero, 1);
    case SYS_copy_file_range: {
      /* Into rr-like's stdout or stderr, replay must show the bytes, which
       * only the traced path captures. Offsets written back on success. */
      if ((long)a2 <= 2) return 0;
      struct Out offs[2] = {{a1, 8, 1, 0, kOutOnSuccess},
                            {(uint64_t)frame[4], 8, 1, 0, kOutOnSuccess}};
      return buffer_call(frame, offs, 2);
    }
    case SYS_newfstatat:
      return buffer_one(frame, a2, kStatSize, kOutOnZero, 1);
    case SYS_lseek:
    case SYS_getpid:
    case SYS_getppid:
    case SYS_gettid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
      return buffer_plain(frame);
    default:
      return buffered_may_block(frame);
  }
}

/* rrl_syscall_entry: called by a per-site stub (which has stepped over the
 * red zone). Preserves every register a syscall preserves, and the flags;
 * rcx (which a syscall clobbers anyway) tells the stub what is left to do:
 * 0 when the syscall was made and buffered (result in rax), 1 when the stub
 * must make it itself, from its own syscall instruction, which stops in the
 * recorder. The traced syscall is made by the stub with the program's own
 * stack pointer, so a signal handler interrupting it sees a sane context
 * (it may even change the ip) and restarting it (ip - 2) works.
 * rrl_untraced: the only syscall instruction the seccomp filter allows; its
 * end is at the offset the recorder looks up (rrl_untraced_end). */
__asm__(
    ".pushsection rrl_preload_text,\"ax\",@progbits\n"
    ".globl rrl_syscall_entry\n"
    ".hidden rrl_syscall_entry\n"
    "rrl_syscall_entry:\n"
    "  pushfq\n"
    "  push %r9\n"
    "  push %r8\n"
    "  push %r10\n"
    "  push %rdx\n"
    "  push %rsi\n"
    "  push %rdi\n"
    "  push %rax\n"
    "  push %rbx\n"
    "  mov %rsp, %rbx\n"
    "  lea 8(%rsp), %rdi\n"
    "  and $-16, %rsp\n"
    "  call rrl_buffered\n"
    ".globl rrl_entry_resume\n"
    ".hidden rrl_entry_resume\n"
    "rrl_entry_resume:\n"
    "  mov %rbx, %rsp\n"
    "  pop %rbx\n"
    "  test %eax, %eax\n"
    "  pop %rax\n"
    "  pop %rdi\n"
    "  pop %rsi\n"
    "  pop %rdx\n"
    "  pop %r10\n"
    "  pop %r8\n"
    "  pop %r9\n"
    "  mov $1, %ecx\n"
    "  jz 1f\n"
    "  mov $0, %ecx\n"
    "1:\n"
    "  popfq\n"
    "  ret\n"
    ".globl rrl_untraced\n"
    ".hidden rrl_untraced\n"
    "rrl_untraced:\n"
    "  mov %rdi, %rax\n"
    "  mov 8(%rax), %rdi\n"
    "  mov 16(%rax), %rsi\n"
    "  mov 24(%rax), %rdx\n"
    "  mov 32(%rax), %r10\n"
    "  mov 40(%rax), %r8\n"
    "  mov 48(%rax), %r9\n"
    "  mov (%rax), %rax\n"
    "  syscall\n"
    ".globl rrl_untraced_end\n"
    ".hidden rrl_untraced_end\n"
    "rrl_untraced_end:\n"
    "  ret\n"
    ".popsection\n");
