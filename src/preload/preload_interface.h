/* The contract between the recorder and the preload code it maps into every
 * recorded process. Both sides include this file (it is C, so that the
 * freestanding preload code can use it). Bump RRL_PRELOAD_VERSION whenever a
 * constant, the buffer header or the record layout changes: the version is
 * stored in the trace and replay refuses a trace of another version.
 *
 * Layout at a fixed address (the seccomp filter names the untraced syscall
 * instruction by address, before the program even starts):
 *   [RRL_PRELOAD_BASE, +RRL_CODE_SIZE)   the preload code (read, execute)
 *   [RRL_STUBS_ADDR, +RRL_STUBS_SIZE)     per-site stubs written by the recorder
 *   [RRL_BUFFER_ADDR, +RRL_BUFFER_SIZE)   the syscall buffer (read, write)
 * The buffer is one per address space: only one task runs user code at a
 * time, and the recorder never stops a task inside the preload code for long
 * (a task blocked in its untraced syscall counts as running user code; see
 * RRL_SYSCALL_ABORTED). */
#ifndef RRL_PRELOAD_INTERFACE_H
#define RRL_PRELOAD_INTERFACE_H

#include <stdint.h>

#define RRL_PRELOAD_VERSION 8

/* ~1.2 GiB below the libraries of an unrandomised address space: within
 * reach of a rel32 jump from libc, ld.so and the vdso. */
#define RRL_PRELOAD_BASE 0x7fffb0000000ULL
#define RRL_CODE_SIZE 0x10000ULL
#define RRL_STUBS_ADDR (RRL_PRELOAD_BASE + RRL_CODE_SIZE)
#define RRL_STUBS_SIZE 0x40000ULL
#define RRL_BUFFER_ADDR (RRL_STUBS_ADDR + RRL_STUBS_SIZE)
#define RRL_BUFFER_SIZE 0x400000ULL
#define RRL_PRELOAD_END (RRL_BUFFER_ADDR + RRL_BUFFER_SIZE)

/* The recorder's answer to an untraced syscall that it took back: the task
 * blocked in it (or a signal came for it) and the recorder interrupted it
 * (recorder/blocking.cc). The kernel's ERESTARTSYS, which the kernel itself
 * never returns to a program. The preload code then drops the record it had
 * reserved, writes nothing, and the stub makes the syscall from its own,
 * traced, syscall instruction. */
#define RRL_SYSCALL_ABORTED (-512)

/* Reads and writes larger than this take the traced path. */
#define RRL_MAX_BUFFERED_IO 0x40000ULL

/* At RRL_BUFFER_ADDR. The preload code writes it (fd_generation too, at a
 * buffered close); the recorder only reads it, except fd_generation, which it
 * increments at the exit of every traced
 * syscall that may close or replace a file descriptor (close, close_range,
 * dup2, dup3) and records as a memory write of that syscall, so that replay,
 * which runs the same preload code, sees the same values at the same points.
 * Records go into one of two halves of the space after the header (`half`
 * is the offset of the one being filled). When a record does not fit, the
 * code sets wrap_pending and takes the traced path; the recorder flushes at
 * that traced syscall, and the next entry starts over at the beginning of
 * the other half, with a new epoch. So the half just flushed stays as it is
 * until the next wrap: the recorder reads it while the program goes on
 * (recorder/syscallbuf.cc). `count` counts the records ever written, so
 * the recorder knows how many a flush holds without reading them. */
#define RRL_CACHED_FDS 1024
struct rrl_buffer_header {
  uint64_t pos;                 /* bytes of records after the header */
  uint64_t epoch;               /* incremented at each wrap */
  uint64_t wrap_pending;        /* the next entry wraps */
  uint64_t fd_generation;       /* the recorder's: see above */
  uint64_t fd_cache_generation; /* the fd_generation regular_fds is valid for */
  /* Futex waits the recorder took back in a row (saturating), and a count of
   * the waits that went the traced way at once because of it (preload.c).
   * Derived from recorded results only, so replay computes the same. */
  uint64_t wait_aborts;
  uint64_t wait_skips;
  uint64_t half;  /* 0 or RRL_HALF_SIZE */
  uint64_t count; /* records written since the address space began */
  /* The buffer (offsets from RRL_BUFFER_ADDR) is populated below this: the
   * preload code asks for its pages ahead of the records (preload.c,
   * populate_ahead), and stops asking when the kernel refuses. */
  uint64_t populated;
  uint64_t populate_refused;
  /* Unused since version 4 (reads and writes of any fd are buffered now;
   * version 3 cached here which fds were regular files). */
  uint64_t regular_fds[RRL_CACHED_FDS / 64];
};

/* The size of each half, a multiple of 8. */
#define RRL_HALF_SIZE (((RRL_BUFFER_SIZE - sizeof(struct rrl_buffer_header)) / 2) & ~(uint64_t)7)

/* One buffered syscall, followed by the memory it wrote: out_len[0] bytes
 * that were at out_addr[0], then out_len[1] bytes from out_addr[1], ...
 * (unused areas have length 0), padded to 8 bytes; size covers all of it. */
#define RRL_OUT_AREAS 3
struct rrl_record {
  uint64_t size;
  int64_t syscallno;
  uint64_t args[6];
  int64_t result;
  uint64_t out_addr[RRL_OUT_AREAS];
  uint64_t out_len[RRL_OUT_AREAS];
};

#endif
