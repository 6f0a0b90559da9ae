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
 * their registers. rrl_buffered() decides: a syscall it knows cannot block is
 * made through rrl_untraced (the one syscall instruction the seccomp filter
 * lets through without a ptrace stop) and appended to the buffer with the
 * memory it wrote; anything else returns to the entry, which makes the
 * syscall from its own, traced, syscall instruction. Reads and writes are
 * buffered only on regular files, which never block; the fstat that decides
 * it is buffered too, so that replay sees every syscall made here. An openat
 * is buffered when it cannot wait (only opening a FIFO or a device can):
 * see open_cannot_block. */
#include <stddef.h>
#include <sys/syscall.h>

/* From <fcntl.h>, which pulls in libc declarations we do not want here. */
enum { F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030 };

#include "preload/preload_interface.h"

#define RRL_CODE __attribute__((section("rrl_preload_text"), used))

/* Assembly parts (below): entry from the stubs and the untraced syscall. */
long rrl_untraced(const long* frame) __attribute__((visibility("hidden")));

enum { kStatSize = 144, kStatModeOffset = 24, kIfmt = 0170000, kIfreg = 0100000, kIfdir = 0040000 };
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

RRL_CODE static void copy_bytes(volatile unsigned char* to, const volatile unsigned char* from,
                                uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) to[i] = from[i];
}

RRL_CODE static uint64_t round8(uint64_t n) {
  return (n + 7) & ~7ULL;
}

/* Room for a record with `len` bytes of output, or 0 (then the buffer wraps
 * at the next entry, after the recorder has flushed it). */
RRL_CODE static struct rrl_record* reserve(uint64_t len) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  uint64_t need = sizeof(struct rrl_record) + round8(len);
  uint64_t room = RRL_BUFFER_SIZE - sizeof(struct rrl_buffer_header);
  if (h->pos + need > room) {
    h->wrap_pending = 1;
    return 0;
  }
  return (struct rrl_record*)(RRL_BUFFER_ADDR + sizeof(struct rrl_buffer_header) + h->pos);
}

/* How much of `out` a result says was written. */
enum OutRule {
  kOutOnZero,    /* all of it when the result is 0 (clock_gettime, fstat) */
  kOutResult,    /* as many bytes as a positive result (read) */
  kOutOnSuccess, /* all of it unless the result is an error (time) */
};

/* Makes the syscall of frame (nr, then 6 arguments) untraced and appends it
 * with what it wrote to `out` (max_out bytes at most). false: no room. */
RRL_CODE static int buffer_call(long* frame, uint64_t out, uint64_t max_out, enum OutRule rule) {
  struct rrl_record* rec = reserve(out ? max_out : 0);
  if (!rec) return 0;
  long result = rrl_untraced(frame);
  uint64_t len = 0;
  if (out && rule == kOutOnZero && result == 0) len = max_out;
  if (out && rule == kOutResult && result > 0) len = (uint64_t)result;
  if (out && rule == kOutOnSuccess && (result >= 0 || result < -4095)) len = max_out;
  rec->syscallno = frame[0];
  for (int i = 0; i < 6; ++i) rec->args[i] = (uint64_t)frame[i + 1];
  rec->result = result;
  rec->out_addr = out;
  rec->out_len = len;
  rec->reserved = 0;
  copy_bytes((unsigned char*)(rec + 1), (const unsigned char*)out, len);
  rec->size = sizeof(struct rrl_record) + round8(len);
  ((struct rrl_buffer_header*)RRL_BUFFER_ADDR)->pos += rec->size;
  frame[0] = result;
  return 1;
}

/* Whether fd is a regular file (a read or write on it cannot block): from
 * the cache while no fd was closed or replaced, else by a buffered fstat. */
RRL_CODE static struct rrl_buffer_header* fd_cache(void) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  if (h->fd_cache_generation != h->fd_generation) {
    for (int i = 0; i < RRL_CACHED_FDS / 64; ++i) h->regular_fds[i] = 0;
    h->fd_cache_generation = h->fd_generation;
  }
  return h;
}

RRL_CODE static int is_regular_file(long fd) {
  struct rrl_buffer_header* h = fd_cache();
  int cacheable = fd >= 0 && fd < RRL_CACHED_FDS;
  if (cacheable && (h->regular_fds[fd / 64] >> (fd % 64)) & 1) return 1;
  unsigned char st[kStatSize];
  long frame[7] = {SYS_fstat, fd, (long)st, 0, 0, 0, 0};
  if (!buffer_call(frame, (uint64_t)st, kStatSize, kOutOnZero) || frame[0] != 0) return 0;
  unsigned mode = *(volatile unsigned*)(st + kStatModeOffset);
  if ((mode & kIfmt) != kIfreg) return 0;
  if (cacheable) h->regular_fds[fd / 64] |= 1ULL << (fd % 64);
  return 1;
}

/* What an openat(dirfd, path, flags) opens, as far as it decides whether the
 * open can wait. */
enum OpenKind {
  kOpenMayBlock, /* a FIFO, a device, a socket: traced */
  kOpenOther,    /* cannot wait, but is not known to be a regular file */
  kOpenRegular,  /* a regular file: reads and writes on the new fd are buffered */
};

/* Only opening a FIFO (or some devices) waits. A directory, an O_PATH or an
 * O_NONBLOCK open never does, nor does one that creates a new file
 * (O_CREAT|O_EXCL). Anything else is looked at first, by a buffered
 * newfstatat of the same path: a regular file or a directory cannot make the
 * open wait, and a path that does not exist makes it fail (or, with O_CREAT,
 * create a regular file). A path replaced by a FIFO between the two calls
 * would make the buffered open wait: the program raced with itself. */
RRL_CODE static enum OpenKind open_kind(long dirfd, uint64_t path, uint64_t flags) {
  if (flags & (kODirectory | kOPath)) return kOpenOther;
  if ((flags & (kOCreat | kOExcl)) == (kOCreat | kOExcl)) return kOpenRegular;
  if (flags & kONonblock) return kOpenOther;
  unsigned char st[kStatSize];
  long frame[7] = {SYS_newfstatat,
                   dirfd,
                   (long)path,
                   (long)st,
                   (flags & kONofollow) ? kAtSymlinkNofollow : 0,
                   0,
                   0};
  if (!buffer_call(frame, (uint64_t)st, kStatSize, kOutOnZero)) return kOpenMayBlock;
  if (frame[0] == -kENoent) return (flags & kOCreat) ? kOpenRegular : kOpenOther;
  if (frame[0] != 0) return kOpenMayBlock;
  unsigned mode = *(volatile unsigned*)(st + kStatModeOffset) & kIfmt;
  if (mode == kIfreg) return kOpenRegular;
  return mode == kIfdir ? kOpenOther : kOpenMayBlock;
}

RRL_CODE static int buffer_openat(long* frame) {
  enum OpenKind kind = open_kind(frame[1], (uint64_t)frame[2], (uint64_t)frame[3]);
  if (kind == kOpenMayBlock || !buffer_call(frame, 0, 0, kOutOnZero)) return 0;
  long fd = frame[0];
  /* The new fd's number was free, so the cache knows nothing of it yet. */
  if (kind == kOpenRegular && fd >= 0 && fd < RRL_CACHED_FDS)
    fd_cache()->regular_fds[fd / 64] |= 1ULL << (fd % 64);
  return 1;
}

/* frame: nr, 6 arguments. Returns 1 with the result in frame[0] when the
 * syscall was made and buffered, 0 for the traced path. */
__attribute__((visibility("hidden"))) RRL_CODE int rrl_buffered(long* frame) {
  struct rrl_buffer_header* h = (struct rrl_buffer_header*)RRL_BUFFER_ADDR;
  if (h->wrap_pending) {
    h->pos = 0;
    h->epoch++;
    h->wrap_pending = 0;
  }
  long nr = frame[0];
  uint64_t a0 = (uint64_t)frame[1], a1 = (uint64_t)frame[2], a2 = (uint64_t)frame[3];
  switch (nr) {
    case SYS_read:
    case SYS_pread64:
      if (a2 > RRL_MAX_BUFFERED_IO || !is_regular_file((long)a0)) return 0;
      return buffer_call(frame, a1, a2, kOutResult);
    case SYS_write:
    case SYS_pwrite64:
      if (a2 > RRL_MAX_BUFFERED_IO || !is_regular_file((long)a0)) return 0;
      return buffer_call(frame, 0, 0, kOutOnZero);
    case SYS_clock_gettime:
      return buffer_call(frame, a1, 16, kOutOnZero);
    case SYS_gettimeofday:
      if (a1 != 0) return 0; /* the obsolete timezone: rare, traced */
      return buffer_call(frame, a0, a0 ? 16 : 0, kOutOnZero);
    case SYS_time:
      return buffer_call(frame, a0, a0 ? 8 : 0, kOutOnSuccess);
    case SYS_getdents64:
      if (a2 > RRL_MAX_BUFFERED_IO) return 0;
      return buffer_call(frame, a1, a2, kOutResult);
    case SYS_close:
      /* rr-like's own view of stdin/stdout/stderr must stay exact. */
      if ((long)a0 <= 2) return 0;
      h->fd_generation++; /* an fd number may name another file now */
      return buffer_call(frame, 0, 0, kOutOnZero);
    case SYS_fcntl:
      /* Only commands that never block (not the F_SETLKW family). */
      if (a1 != F_GETFD && a1 != F_SETFD && a1 != F_GETFL && a1 != F_SETFL && a1 != F_DUPFD &&
          a1 != F_DUPFD_CLOEXEC)
        return 0;
      return buffer_call(frame, 0, 0, kOutOnZero);
    case SYS_openat:
      return buffer_openat(frame);
    case SYS_fadvise64:
    case SYS_unlinkat:
    case SYS_mkdirat:
      return buffer_call(frame, 0, 0, kOutOnZero);
    case SYS_ioctl:
      /* A reflink between regular files (cp tries one per file). */
      if (a1 != RRL_FICLONE || !is_regular_file((long)a0)) return 0;
      return buffer_call(frame, 0, 0, kOutOnZero);
    case SYS_fstat:
      return buffer_call(frame, a1, kStatSize, kOutOnZero);
    case SYS_newfstatat:
      return buffer_call(frame, a2, kStatSize, kOutOnZero);
    case SYS_lseek:
    case SYS_getpid:
    case SYS_getppid:
    case SYS_gettid:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
      return buffer_call(frame, 0, 0, kOutOnZero);
    default:
      return 0;
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
