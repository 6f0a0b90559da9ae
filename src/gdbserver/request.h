// Typed requests: parse_request() turns one packet payload into a struct that
// names what gdb asked for. Parsing only: no state, no replies. Malformed
// packets are errors (the server answers "E01"); packets we do not know are
// Unknown (the server answers with an empty packet, as the protocol requires).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"
#include "gdbserver/target.h"

namespace rrl::gdb {

// A thread-id as gdb writes it: "p<pid>.<tid>", "p<pid>" (all its threads) or
// "<tid>"; -1 means all and 0 means any.
struct ThreadId {
  static constexpr int kAll = -1;
  static constexpr int kAny = 0;
  int pid = kAny;  // kAny when gdb used the plain "<tid>" form
  int tid = kAny;
  bool operator==(const ThreadId&) const = default;
};
Expected<ThreadId> parse_thread_id(std::string_view text);

struct QSupported {
  std::vector<std::string> features;
};  // gdb's, e.g. "multiprocess+"
struct StartNoAckMode {};
struct HaltReason {};     // '?'
struct ReadRegisters {};  // 'g'
struct WriteRegisters {
  std::vector<uint8_t> data;
};  // 'G' (refused)
struct ReadRegister {
  int regno = 0;
};  // 'p n'
struct WriteRegister {
  int regno = 0;
  std::vector<uint8_t> value;
};  // 'P n=v' (refused)
struct ReadMemory {
  uint64_t addr = 0;
  uint64_t length = 0;
};                    // 'm addr,len'
struct WriteMemory {  // 'M addr,len:hex' or 'X addr,len:binary' (refused)
  uint64_t addr = 0;
  uint64_t length = 0;
  std::vector<uint8_t> data;
  bool binary = false;
};

enum class VContKind : uint8_t { kContinue, kStep, kStop, kRangeStep };
struct VContAction {
  VContKind kind = VContKind::kContinue;
  int signal = 0;                  // for C/S; 0 when none
  std::optional<ThreadId> thread;  // nullopt: the default action
  uint64_t range_start = 0;        // for 'r'
  uint64_t range_end = 0;
};
// c/s/C/S: the legacy resume packets, as one action on the Hc thread.
struct Resume {
  VContKind kind = VContKind::kContinue;  // kContinue or kStep
  int signal = 0;
  std::optional<uint64_t> addr;
};
struct VContQuery {};
struct VCont {
  std::vector<VContAction> actions;
};
struct ReverseContinue {};  // 'bc'
struct ReverseStep {};      // 'bs'
struct Breakpoint {         // Z/z
  bool insert = true;
  BreakpointType type = BreakpointType::kSoftware;
  uint64_t addr = 0;
  uint64_t kind = 0;  // length for watchpoints, instruction size for breakpoints
};
struct SetThread {
  char op = 'g';
  ThreadId thread;
};  // 'Hg' / 'Hc'
struct ThreadAlive {
  ThreadId thread;
};                          // 'T'
struct CurrentThread {};    // qC
struct ThreadListFirst {};  // qfThreadInfo
struct ThreadListNext {};   // qsThreadInfo
struct Attached {
  std::optional<int> pid;
};                 // qAttached[:pid]
struct XferRead {  // qXfer:<object>:read:<annex>:<offset>,<length>
  std::string object;
  std::string annex;
  uint64_t offset = 0;
  uint64_t length = 0;
};
struct MonitorCommand {
  std::string command;
};                  // qRcmd,<hex>
struct Offsets {};  // qOffsets
struct SymbolLookup {
  std::string rest;
};                         // qSymbol:...
struct TraceStatus {};     // qTStatus
struct MustReplyEmpty {};  // vMustReplyEmpty
struct Kill {
  std::optional<int> pid;
  bool vkill = false;
};  // 'k' / vKill;pid
struct Detach {
  std::optional<int> pid;
};  // D[;pid]
struct ThreadExtraInfo {
  ThreadId thread;
};
struct NonStop {
  bool enable = false;
};
struct ThreadEvents {
  bool enable = false;
};
struct ListThreadsInStopReplies {};
struct SignalFilter {
  bool program = false;
  std::vector<int> signals;
};  // QPass/QProgramSignals
struct VFile {
  std::string rest;
};  // vFile:... (unsupported)
struct Unknown {
  std::string payload;
};

using Request =
    std::variant<QSupported, StartNoAckMode, HaltReason, ReadRegisters, WriteRegisters,
                 ReadRegister, WriteRegister, ReadMemory, WriteMemory, Resume, VContQuery, VCont,
                 ReverseContinue, ReverseStep, Breakpoint, SetThread, ThreadAlive, CurrentThread,
                 ThreadListFirst, ThreadListNext, Attached, XferRead, MonitorCommand, Offsets,
                 SymbolLookup, TraceStatus, MustReplyEmpty, Kill, Detach, ThreadExtraInfo, NonStop,
                 ThreadEvents, ListThreadsInStopReplies, SignalFilter, VFile, Unknown>;

Expected<Request> parse_request(std::string_view payload);

// Parsers of the 'q', 'Q' and 'v' families (request_query.cc).
// Helpers shared by the parsers.
std::vector<std::string_view> split_fields(std::string_view text, char sep);
Expected<uint64_t> parse_hex_field(std::string_view text, std::string_view what);
Expected<int> parse_signal(std::string_view text);
Expected<Request> parse_query(std::string_view payload);
Expected<Request> parse_set(std::string_view payload);
Expected<Request> parse_v_packet(std::string_view payload);

}  // namespace rrl::gdb
