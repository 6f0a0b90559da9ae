// GdbServer handlers for queries and session switches: qSupported, qXfer
// objects (target description, auxv, exec file, thread list), monitor
// commands, and the packets we accept or decline without doing anything.
#include <fmt/core.h>

#include <algorithm>

#include "common/log.h"
#include "gdbserver/packet.h"
#include "gdbserver/reply.h"
#include "gdbserver/server.h"
#include "gdbserver/target_xml.h"

namespace rrl::gdb {
namespace {

const LogChannel kLog("gdbserver");

constexpr std::string_view kSupported =
    "PacketSize=4000;QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
    "qXfer:exec-file:read+;qXfer:threads:read+;multiprocess+;swbreak+;hwbreak+;"
    "ReverseContinue+;ReverseStep+;vContSupported+;QThreadEvents+;"
    "QListThreadsInStopReplies+;QPassSignals+;QProgramSignals+";

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

GdbServer::Reply GdbServer::handle(const QSupported& req) {
  multiprocess_ =
      std::find(req.features.begin(), req.features.end(), "multiprocess+") != req.features.end();
  return std::string(kSupported);
}

GdbServer::Reply GdbServer::handle(const StartNoAckMode&) {
  pending_no_ack_ = true;  // after our "OK" has been acknowledged
  return reply_ok();
}

std::string GdbServer::threads_xml() {
  std::string xml = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (const ThreadInfo& t : target_.threads()) {
    xml += fmt::format("  <thread id=\"{}\"", format_thread_id(t.thread, multiprocess_));
    if (!t.name.empty()) xml += fmt::format(" name=\"{}\"", xml_escape(t.name));
    xml += "/>\n";
  }
  xml += "</threads>\n";
  return xml;
}

// The whole object; the handler cuts out the part gdb asked for.
Expected<std::string> GdbServer::xfer_object(const XferRead& req) {
  int pid = target_.current_thread().pid;
  if (!req.annex.empty() && req.object != "features") {
    auto annex_pid = parse_hex_u64(req.annex);
    if (!annex_pid) return fail("bad pid annex '" + req.annex + "'");
    pid = static_cast<int>(*annex_pid);
  }
  if (req.object == "features") {
    if (req.annex != "target.xml") return fail("no feature document '" + req.annex + "'");
    return target_xml();
  }
  if (req.object == "auxv") {
    auto auxv = target_.auxv(pid);
    if (!auxv) return std::unexpected(auxv.error());
    return std::string(auxv->begin(), auxv->end());
  }
  if (req.object == "exec-file") return target_.exec_file(pid);
  RRL_ASSERT(req.object == "threads");
  return threads_xml();
}

GdbServer::Reply GdbServer::handle(const XferRead& req) {
  if (req.object != "features" && req.object != "auxv" && req.object != "exec-file" &&
      req.object != "threads")
    return reply_empty();
  auto data = xfer_object(req);
  if (!data) {
    kLog.info(0, "qXfer:{} failed: {}", req.object, data.error().message);
    return reply_error(1);
  }
  return reply_xfer_slice(*data, req.offset, req.length);
}

GdbServer::Reply GdbServer::handle(const MonitorCommand& req) {
  auto output = target_.monitor_command(req.command);
  std::string text = output ? *output : output.error().message + "\n";
  if (!text.empty()) {
    // Console output goes ahead of the final answer; a lost one is harmless.
    if (auto sent = conn_.send_packet(reply_console_output(text)); !sent)
      kLog.info(0, "monitor output not sent: {}", sent.error().message);
  }
  return output ? reply_ok() : reply_error(1);
}

GdbServer::Reply GdbServer::handle(const ThreadExtraInfo& req) {
  auto thread = resolve(req.thread);
  if (!thread) return reply_error(1);
  for (const ThreadInfo& t : target_.threads()) {
    if (t.thread == *thread && !t.name.empty()) return hex_encode(t.name);
  }
  return hex_encode(fmt::format("tid {}", thread->tid));
}

GdbServer::Reply GdbServer::handle(const Attached&) {
  return std::string("1");  // quitting gdb detaches instead of killing
}

GdbServer::Reply GdbServer::handle(const NonStop& req) {
  if (req.enable) {
    kLog.info(0, "non-stop mode is not supported");
    return reply_error(1);
  }
  return reply_ok();
}

GdbServer::Reply GdbServer::handle(const ListThreadsInStopReplies&) {
  list_threads_in_stop_ = true;
  return reply_ok();
}

GdbServer::Reply GdbServer::handle(const ThreadEvents&) {
  return reply_ok();
}
// Replay cannot change which signals reach the program; accepting is honest
// since gdb only uses these to avoid stops we would not make anyway.
GdbServer::Reply GdbServer::handle(const SignalFilter&) {
  return reply_ok();
}
GdbServer::Reply GdbServer::handle(const SymbolLookup&) {
  return reply_ok();
}
GdbServer::Reply GdbServer::handle(const Offsets&) {
  return reply_empty();
}
GdbServer::Reply GdbServer::handle(const TraceStatus&) {
  return reply_empty();
}
GdbServer::Reply GdbServer::handle(const MustReplyEmpty&) {
  return reply_empty();
}
// Host I/O, read-only: gdb reads files of the debugged process this way
// (/proc/PID/maps and the like, which the target maps to the replay's own).
GdbServer::Reply GdbServer::handle(const VFile& req) {
  auto colon = req.rest.find(':');
  std::string_view op = std::string_view(req.rest).substr(0, colon);
  auto args = colon == std::string::npos
                  ? std::vector<std::string_view>{}
                  : split_fields(std::string_view(req.rest).substr(colon + 1), ',');
  if (op == "setfs") return std::string("F0");
  if (op == "open" && !args.empty()) {
    auto path = hex_decode_text(args[0]);
    uint64_t flags = args.size() > 1 ? parse_hex_u64(args[1]).value_or(1) : 0;
    if (!path) return reply_error(1);
    if ((flags & 3) != 0) return std::string("F-1,d");  // EACCES: read-only
    auto data = target_.file_contents(register_thread().pid, *path);
    if (!data) return fmt::format("F-1,{:x}", data.error().sys_errno ? data.error().sys_errno : 2);
    int fd = next_file_++;
    files_[fd] = std::move(*data);
    return fmt::format("F{:x}", fd);
  }
  if (op == "pread" && args.size() == 3) {
    auto fd = parse_hex_u64(args[0]), count = parse_hex_u64(args[1]),
         offset = parse_hex_u64(args[2]);
    auto it = fd ? files_.find(static_cast<int>(*fd)) : files_.end();
    if (it == files_.end() || !count || !offset) return std::string("F-1,9");  // EBADF
    const auto& data = it->second;
    size_t from = std::min<size_t>(*offset, data.size());
    size_t n = std::min<size_t>({*count, data.size() - from, 0x3000});
    return fmt::format("F{:x};", n) + std::string(data.begin() + static_cast<long>(from),
                                                  data.begin() + static_cast<long>(from + n));
  }
  if (op == "close" && args.size() == 1) {
    auto fd = parse_hex_u64(args[0]);
    if (!fd || !files_.erase(static_cast<int>(*fd))) return std::string("F-1,9");
    return std::string("F0");
  }
  return reply_empty();
}

GdbServer::Reply GdbServer::handle(const Unknown& req) {
  kLog.debug(0, "unsupported packet '{}'", req.payload);
  return reply_empty();
}

}  // namespace rrl::gdb
