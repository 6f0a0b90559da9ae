// parse_request() for the named packets: the 'q' queries, the 'Q' settings and
// the 'v' packets (vCont and friends).
#include <fmt/core.h>

#include "gdbserver/packet.h"
#include "gdbserver/request.h"

namespace rrl::gdb {
namespace {

// "name" exactly, or "name" + sep + rest; the rest goes to `rest`.
bool match(std::string_view payload, std::string_view name, char sep, std::string_view* rest) {
  if (!payload.starts_with(name)) return false;
  if (payload.size() == name.size()) {
    *rest = {};
    return true;
  }
  if (payload[name.size()] != sep) return false;
  *rest = payload.substr(name.size() + 1);
  return true;
}

Expected<Request> parse_xfer(std::string_view rest) {
  // object:read:annex:offset,length (the annex may be empty)
  auto fields = split_fields(rest, ':');
  if (fields.size() != 4) return fail("qXfer needs object:op:annex:offset,length");
  if (fields[1] != "read") return Unknown{"qXfer:" + std::string(rest)};
  auto range = split_fields(fields[3], ',');
  if (range.size() != 2) return fail("qXfer needs offset,length");
  auto offset = parse_hex_field(range[0], "qXfer offset");
  if (!offset) return std::unexpected(offset.error());
  auto length = parse_hex_field(range[1], "qXfer length");
  if (!length) return std::unexpected(length.error());
  return XferRead{std::string(fields[0]), std::string(fields[2]), *offset, *length};
}

Expected<Request> parse_supported(std::string_view rest) {
  QSupported req;
  if (!rest.empty()) {
    for (auto feature : split_fields(rest, ';'))
      if (!feature.empty()) req.features.emplace_back(feature);
  }
  return req;
}

Expected<Request> parse_monitor(std::string_view rest) {
  auto text = hex_decode_text(rest);
  if (!text) return fail("qRcmd with bad hex");
  return MonitorCommand{std::move(*text)};
}

Expected<Request> parse_extra_info(std::string_view rest) {
  auto thread = parse_thread_id(rest);
  if (!thread) return std::unexpected(thread.error());
  return ThreadExtraInfo{*thread};
}

Expected<Request> parse_attached(std::string_view rest) {
  if (rest.empty()) return Attached{};
  auto pid = parse_hex_field(rest, "pid");
  if (!pid) return std::unexpected(pid.error());
  return Attached{static_cast<int>(*pid)};
}

Expected<bool> parse_flag(std::string_view rest) {
  if (rest == "0") return false;
  if (rest == "1") return true;
  return fail(fmt::format("expected 0 or 1, got '{}'", rest));
}

Expected<Request> parse_signal_list(std::string_view rest, bool program) {
  SignalFilter req{program, {}};
  if (rest.empty()) return req;
  for (auto field : split_fields(rest, ';')) {
    if (field.empty()) continue;  // gdb ends the list with ';'
    auto sig = parse_hex_field(field, "signal");
    if (!sig) return std::unexpected(sig.error());
    req.signals.push_back(static_cast<int>(*sig));
  }
  return req;
}

// One vCont action: c, s, t, Cxx, Sxx, rstart,end; then an optional :thread.
Expected<VContAction> parse_vcont_action(std::string_view text) {
  VContAction action;
  size_t colon = text.find(':');
  std::string_view verb = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    auto thread = parse_thread_id(text.substr(colon + 1));
    if (!thread) return std::unexpected(thread.error());
    action.thread = *thread;
  }
  if (verb.empty()) return fail("empty vCont action");
  std::string_view arg = verb.substr(1);
  switch (verb[0]) {
    case 'c':
    case 's':
    case 't':
      if (!arg.empty()) return fail(fmt::format("bad vCont action '{}'", verb));
      action.kind = verb[0] == 'c'   ? VContKind::kContinue
                    : verb[0] == 's' ? VContKind::kStep
                                     : VContKind::kStop;
      return action;
    case 'C':
    case 'S': {
      auto sig = parse_signal(arg);
      if (!sig) return std::unexpected(sig.error());
      action.kind = verb[0] == 'C' ? VContKind::kContinue : VContKind::kStep;
      action.signal = *sig;
      return action;
    }
    case 'r': {
      auto range = split_fields(arg, ',');
      if (range.size() != 2) return fail("vCont;r needs start,end");
      auto start = parse_hex_field(range[0], "range start");
      if (!start) return std::unexpected(start.error());
      auto end = parse_hex_field(range[1], "range end");
      if (!end) return std::unexpected(end.error());
      action.kind = VContKind::kRangeStep;
      action.range_start = *start;
      action.range_end = *end;
      return action;
    }
    default:
      return fail(fmt::format("unknown vCont action '{}'", verb));
  }
}

Expected<Request> parse_vcont(std::string_view rest) {
  VCont req;
  if (rest.empty()) return fail("vCont without actions");
  for (auto field : split_fields(rest, ';')) {
    auto action = parse_vcont_action(field);
    if (!action) return std::unexpected(action.error());
    req.actions.push_back(*action);
  }
  return req;
}

}  // namespace

Expected<Request> parse_query(std::string_view payload) {
  std::string_view rest;
  if (match(payload, "qSupported", ':', &rest)) return parse_supported(rest);
  if (payload == "qC") return CurrentThread{};
  if (payload == "qfThreadInfo") return ThreadListFirst{};
  if (payload == "qsThreadInfo") return ThreadListNext{};
  if (match(payload, "qAttached", ':', &rest)) return parse_attached(rest);
  if (match(payload, "qXfer", ':', &rest)) return parse_xfer(rest);
  if (match(payload, "qRcmd", ',', &rest)) return parse_monitor(rest);
  if (payload == "qOffsets") return Offsets{};
  if (match(payload, "qSymbol", ':', &rest)) return SymbolLookup{std::string(rest)};
  if (payload == "qTStatus") return TraceStatus{};
  if (match(payload, "qThreadExtraInfo", ',', &rest)) return parse_extra_info(rest);
  return Unknown{std::string(payload)};
}

Expected<Request> parse_set(std::string_view payload) {
  std::string_view rest;
  if (payload == "QStartNoAckMode") return StartNoAckMode{};
  if (payload == "QListThreadsInStopReplies") return ListThreadsInStopReplies{};
  if (match(payload, "QNonStop", ':', &rest)) {
    auto flag = parse_flag(rest);
    if (!flag) return std::unexpected(flag.error());
    return NonStop{*flag};
  }
  if (match(payload, "QThreadEvents", ':', &rest)) {
    auto flag = parse_flag(rest);
    if (!flag) return std::unexpected(flag.error());
    return ThreadEvents{*flag};
  }
  if (match(payload, "QPassSignals", ':', &rest)) return parse_signal_list(rest, false);
  if (match(payload, "QProgramSignals", ':', &rest)) return parse_signal_list(rest, true);
  return Unknown{std::string(payload)};
}

Expected<Request> parse_v_packet(std::string_view payload) {
  std::string_view rest;
  if (payload == "vCont?") return VContQuery{};
  if (match(payload, "vCont", ';', &rest)) return parse_vcont(rest);
  if (payload == "vMustReplyEmpty") return MustReplyEmpty{};
  if (match(payload, "vKill", ';', &rest)) {
    auto pid = parse_hex_field(rest, "pid");
    if (!pid) return std::unexpected(pid.error());
    return Kill{static_cast<int>(*pid), /*vkill=*/true};
  }
  if (match(payload, "vFile", ':', &rest)) return VFile{std::string(rest)};
  return Unknown{std::string(payload)};
}

}  // namespace rrl::gdb
