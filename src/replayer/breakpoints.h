// Software breakpoints (int3) and hardware watchpoints in a replayed address
// space, for the debugger.
//
// Breakpoints live in the memory of one address space, the debugged process.
// Each one remembers the byte it replaced; memory read for the debugger has
// the original bytes put back (`hide`), so gdb never sees an int3 of ours. An
// mmap, exec or recorded memory write over a breakpoint replaces the int3:
// `refresh` writes it again. A fork copies the int3 bytes into the child,
// which `scrub` undoes there.
//
// Watchpoints are kept here as ranges; the replay session enforces them by
// page protection (see watch_pages.cc): the x86 debug registers would be the
// natural tool, but under the hypervisors we run on they accept values and
// never fire.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"

namespace rrl::replayer {

class BreakpointTable {
 public:
  // Adds a breakpoint (counted: adding twice needs removing twice).
  Status add(pid_t tid, uint64_t addr);
  Status remove(pid_t tid, uint64_t addr);
  bool contains(uint64_t addr) const { return bps_.contains(addr); }
  bool empty() const { return bps_.empty(); }
  std::vector<uint64_t> addresses() const;
  // Writes int3 again where something replaced it.
  Status refresh(pid_t tid);
  // Puts the original bytes into `bytes`, read from the tracee at `addr`.
  void hide(uint64_t addr, std::span<uint8_t> bytes) const;
  // Removes the int3 bytes from another address space (a forked child).
  void scrub(pid_t child_tid) const;
  // Takes one breakpoint out of memory, or puts it back (stepping over it).
  Status lift(pid_t tid, uint64_t addr);
  Status restore(pid_t tid, uint64_t addr);
  // Forgets everything (the address space was replaced by an exec).
  void clear() { bps_.clear(); }

 private:
  struct Bp {
    uint8_t original = 0;
    int refs = 0;
  };
  std::map<uint64_t, Bp> bps_;
};

enum class WatchKind : uint8_t { kWrite = 2, kRead = 3, kAccess = 4 };  // gdb's Z2/Z3/Z4

struct Watchpoint {
  uint64_t addr = 0;
  uint64_t len = 0;
  WatchKind kind = WatchKind::kWrite;
};

class WatchpointTable {
 public:
  Status add(uint64_t addr, uint64_t len, WatchKind kind);
  Status remove(uint64_t addr, uint64_t len, WatchKind kind);
  bool empty() const { return watches_.empty(); }
  uint64_t generation() const { return generation_; }
  // The watchpoint covering `addr`, if any.
  const Watchpoint* find(uint64_t addr) const;
  const std::vector<Watchpoint>& all() const { return watches_; }

 private:
  std::vector<Watchpoint> watches_;
  uint64_t generation_ = 1;
};

}  // namespace rrl::replayer
