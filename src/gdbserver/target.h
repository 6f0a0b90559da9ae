// The debuggee as the gdb server sees it. The replayer implements Target; the
// server never calls ptrace and never knows how execution is reproduced.
// Replay is read-only, so there are no register or memory writes here.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/registers.h"

namespace rrl::gdb {

struct ThreadRef {
  int pid = 0;
  int tid = 0;
  bool operator==(const ThreadRef&) const = default;
};

struct ThreadInfo {
  ThreadRef thread;
  std::string name;  // may be empty
};

// Z/z packet types 0-4.
enum class BreakpointType : uint8_t {
  kSoftware = 0,
  kHardware = 1,
  kWriteWatch = 2,
  kReadWatch = 3,
  kAccessWatch = 4,
};

enum class ResumeAction : uint8_t { kContinue, kStep };
enum class Direction : uint8_t { kForward, kReverse };

struct ResumeRequest {
  ResumeAction action = ResumeAction::kContinue;
  Direction direction = Direction::kForward;
  ThreadRef thread;  // the thread to step; for continue, the one gdb selected
};

enum class StopKind : uint8_t {
  kSignal,              // stopped with `signal` (SIGTRAP after a step, SIGINT on interrupt)
  kSoftwareBreakpoint,  // hit a Z0 breakpoint (reported as SIGTRAP + swbreak)
  kHardwareBreakpoint,  // hit a Z1 breakpoint (SIGTRAP + hwbreak)
  kWatchpoint,          // a Z2/Z3/Z4 watchpoint triggered at `watch_address`
  kExited,              // process exited with `exit_code`
  kTerminated,          // process killed by `signal`
  kHistoryStart,        // reverse execution reached the start of the recording
  kHistoryEnd,          // forward execution reached the end of the recording
};

struct StopEvent {
  StopKind kind = StopKind::kSignal;
  ThreadRef thread;
  int signal = 5;  // SIGTRAP unless said otherwise
  uint64_t watch_address = 0;
  BreakpointType watch_type = BreakpointType::kWriteWatch;
  int exit_code = 0;
};

// Asked by the target while it runs; true once gdb sent Ctrl-C (or went away).
using InterruptPoll = std::function<bool()>;

class Target {
 public:
  virtual ~Target() = default;

  virtual std::vector<ThreadInfo> threads() = 0;
  // The thread of the last stop; what '?' and qC report.
  virtual ThreadRef current_thread() = 0;
  virtual StopEvent last_stop() = 0;
  virtual Expected<Registers> general_registers(ThreadRef thread) = 0;
  virtual Expected<user_fpregs_struct> fp_registers(ThreadRef thread) = 0;
  // The XSAVE area (for the ymm upper halves); empty when unavailable.
  virtual std::vector<uint8_t> xsave_area(ThreadRef thread) = 0;
  // Bytes from `addr`, stopping at the first unreadable byte, with software
  // breakpoints hidden. Empty when nothing is readable.
  virtual std::vector<uint8_t> read_memory(ThreadRef thread, uint64_t addr, size_t len) = 0;
  virtual Expected<std::vector<uint8_t>> auxv(int pid) = 0;
  virtual Expected<std::string> exec_file(int pid) = 0;
  // A file as the debugged process `pid` would see it (vFile). Errors carry
  // an errno.
  virtual Expected<std::string> file_contents(int pid, const std::string& path) = 0;
  // Run until something gdb must see. Calls `interrupted` often enough that
  // Ctrl-C feels immediate, and stops with SIGINT when it returns true.
  virtual Expected<StopEvent> resume(const ResumeRequest& request,
                                     const InterruptPoll& interrupted) = 0;
  virtual Status insert_breakpoint(BreakpointType type, uint64_t addr, uint64_t kind) = 0;
  virtual Status remove_breakpoint(BreakpointType type, uint64_t addr, uint64_t kind) = 0;
  // "monitor ..." in gdb: the text typed, and the text to print back.
  virtual Expected<std::string> monitor_command(std::string_view command) = 0;
  virtual void kill() = 0;
  virtual void detach() = 0;
};

}  // namespace rrl::gdb
