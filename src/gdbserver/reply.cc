// Reply payload builders. See reply.h.
#include "gdbserver/reply.h"

#include <fmt/core.h>

#include "gdbserver/packet.h"

namespace rrl::gdb {
namespace {

std::string watch_field(const StopEvent& stop) {
  const char* name = "watch";
  if (stop.watch_type == BreakpointType::kReadWatch) name = "rwatch";
  if (stop.watch_type == BreakpointType::kAccessWatch) name = "awatch";
  return fmt::format("{}:{};", name, hex_u64(stop.watch_address));
}

// The reason field that goes before "thread:", if any.
std::string reason_field(const StopEvent& stop) {
  switch (stop.kind) {
    case StopKind::kSoftwareBreakpoint:
      return "swbreak:;";
    case StopKind::kHardwareBreakpoint:
      return "hwbreak:;";
    case StopKind::kWatchpoint:
      return watch_field(stop);
    case StopKind::kHistoryStart:
      return "replaylog:begin;";
    case StopKind::kHistoryEnd:
      return "replaylog:end;";
    default:
      return {};
  }
}

int stop_signal(const StopEvent& stop) {
  switch (stop.kind) {
    case StopKind::kSignal:
      return stop.signal;
    default:
      return 5;  // SIGTRAP for breakpoints, watchpoints and history ends
  }
}

}  // namespace

std::string reply_ok() {
  return "OK";
}
std::string reply_error(int code) {
  return fmt::format("E{:02x}", code & 0xff);
}
std::string reply_empty() {
  return {};
}

std::string format_thread_id(ThreadRef thread, bool multiprocess) {
  auto part = [](int v) { return v < 0 ? std::string("-1") : hex_u64(static_cast<uint64_t>(v)); };
  if (!multiprocess) return part(thread.tid);
  return fmt::format("p{}.{}", part(thread.pid), part(thread.tid));
}

std::string reply_stop(const StopEvent& stop, const StopReplyOptions& options) {
  if (stop.kind == StopKind::kExited || stop.kind == StopKind::kTerminated) {
    char letter = stop.kind == StopKind::kExited ? 'W' : 'X';
    int code = stop.kind == StopKind::kExited ? stop.exit_code : stop.signal;
    std::string out = fmt::format("{}{:02x}", letter, code & 0xff);
    if (options.multiprocess)
      out += fmt::format(";process:{}", hex_u64(static_cast<uint64_t>(stop.thread.pid)));
    return out;
  }
  std::string out = fmt::format("T{:02x}", stop_signal(stop) & 0xff);
  out += reason_field(stop);
  out += "thread:" + format_thread_id(stop.thread, options.multiprocess) + ";";
  if (!options.threads.empty()) {
    out += "threads:";
    for (size_t i = 0; i < options.threads.size(); ++i) {
      if (i != 0) out += ",";
      out += format_thread_id(options.threads[i], options.multiprocess);
    }
    out += ";";
  }
  return out;
}

std::string reply_thread_list(std::span<const ThreadRef> threads, bool multiprocess) {
  std::string out = "m";
  for (size_t i = 0; i < threads.size(); ++i) {
    if (i != 0) out += ",";
    out += format_thread_id(threads[i], multiprocess);
  }
  return out;
}

std::string reply_thread_list_end() {
  return "l";
}

std::string reply_console_output(std::string_view text) {
  return "O" + hex_encode(text);
}

std::string reply_xfer_slice(std::string_view data, uint64_t offset, uint64_t length) {
  if (offset >= data.size()) return "l";
  std::string_view slice = data.substr(offset, length);
  bool last = offset + slice.size() >= data.size();
  return (last ? "l" : "m") + std::string(slice);
}

}  // namespace rrl::gdb
