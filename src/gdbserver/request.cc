// parse_request(): the single-letter packets (registers, memory, resume,
// breakpoints, threads, kill/detach). The 'q', 'Q' and 'v' families live in
// request_query.cc.
#include "gdbserver/request.h"

#include <fmt/core.h>

#include "gdbserver/packet.h"

namespace rrl::gdb {
namespace {

// "addr,len" as used by m, M, X and Z.
Expected<std::pair<uint64_t, uint64_t>> parse_addr_len(std::string_view text) {
  auto fields = split_fields(text, ',');
  if (fields.size() != 2) return fail(fmt::format("expected addr,length in '{}'", text));
  auto addr = parse_hex_field(fields[0], "address");
  if (!addr) return std::unexpected(addr.error());
  auto len = parse_hex_field(fields[1], "length");
  if (!len) return std::unexpected(len.error());
  return std::pair{*addr, *len};
}

Expected<Request> parse_write_memory(std::string_view body, bool binary) {
  size_t colon = body.find(':');
  if (colon == std::string_view::npos) return fail("memory write without ':'");
  auto range = parse_addr_len(body.substr(0, colon));
  if (!range) return std::unexpected(range.error());
  WriteMemory req{range->first, range->second, {}, binary};
  std::string_view data = body.substr(colon + 1);
  if (binary) {
    req.data.assign(data.begin(), data.end());
  } else {
    auto bytes = hex_decode(data);
    if (!bytes) return fail("memory write with bad hex data");
    req.data = std::move(*bytes);
  }
  if (req.data.size() != req.length) return fail("memory write length does not match its data");
  return req;
}

Expected<Request> parse_register_write(std::string_view body) {
  size_t eq = body.find('=');
  if (eq == std::string_view::npos) return fail("P packet without '='");
  auto regno = parse_hex_field(body.substr(0, eq), "register number");
  if (!regno) return std::unexpected(regno.error());
  auto value = hex_decode(body.substr(eq + 1));
  if (!value || value->empty()) return fail("P packet with bad value");
  return WriteRegister{static_cast<int>(*regno), std::move(*value)};
}

// c/s [addr] and C/S sig[;addr].
Expected<Request> parse_resume(char letter, std::string_view body) {
  Resume req;
  req.kind = (letter == 'c' || letter == 'C') ? VContKind::kContinue : VContKind::kStep;
  if (letter == 'C' || letter == 'S') {
    size_t semi = body.find(';');
    auto sig = parse_signal(body.substr(0, semi));
    if (!sig) return std::unexpected(sig.error());
    req.signal = *sig;
    body = semi == std::string_view::npos ? std::string_view{} : body.substr(semi + 1);
    if (semi != std::string_view::npos && body.empty()) return fail("resume with empty address");
  }
  if (!body.empty()) {
    auto addr = parse_hex_field(body, "resume address");
    if (!addr) return std::unexpected(addr.error());
    req.addr = *addr;
  }
  return req;
}

Expected<Request> parse_breakpoint(bool insert, std::string_view body) {
  // type,addr,kind[;cond...]: conditions are not advertised, so ignore them.
  body = body.substr(0, body.find(';'));
  auto fields = split_fields(body, ',');
  if (fields.size() != 3) return fail("Z/z packet needs type,addr,kind");
  auto type = parse_hex_field(fields[0], "breakpoint type");
  if (!type) return std::unexpected(type.error());
  if (*type > 4) return Unknown{std::string(insert ? "Z" : "z") + std::string(body)};
  auto addr = parse_hex_field(fields[1], "breakpoint address");
  if (!addr) return std::unexpected(addr.error());
  auto kind = parse_hex_field(fields[2], "breakpoint kind");
  if (!kind) return std::unexpected(kind.error());
  return Breakpoint{insert, static_cast<BreakpointType>(*type), *addr, *kind};
}

Expected<Request> parse_set_thread(std::string_view body) {
  if (body.size() < 2 || (body[0] != 'g' && body[0] != 'c')) return fail("bad H packet");
  auto thread = parse_thread_id(body.substr(1));
  if (!thread) return std::unexpected(thread.error());
  return SetThread{body[0], *thread};
}

// 'k', 'D', 'D;pid'
Expected<std::optional<int>> parse_optional_pid(std::string_view body) {
  if (body.empty()) return std::optional<int>{};
  if (body[0] != ';') return fail("expected ';pid'");
  auto pid = parse_hex_field(body.substr(1), "pid");
  if (!pid) return std::unexpected(pid.error());
  return std::optional<int>{static_cast<int>(*pid)};
}

Expected<Request> parse_letter(char letter, std::string_view body, std::string_view payload) {
  switch (letter) {
    case '?':
      return HaltReason{};
    case 'g':
      return ReadRegisters{};
    case 'G': {
      auto data = hex_decode(body);
      if (!data) return fail("G packet with bad hex");
      return WriteRegisters{std::move(*data)};
    }
    case 'p': {
      auto regno = parse_hex_field(body, "register number");
      if (!regno) return std::unexpected(regno.error());
      return ReadRegister{static_cast<int>(*regno)};
    }
    case 'P':
      return parse_register_write(body);
    case 'm': {
      auto range = parse_addr_len(body);
      if (!range) return std::unexpected(range.error());
      return ReadMemory{range->first, range->second};
    }
    case 'M':
    case 'X':
      return parse_write_memory(body, letter == 'X');
    case 'c':
    case 's':
    case 'C':
    case 'S':
      return parse_resume(letter, body);
    case 'Z':
    case 'z':
      return parse_breakpoint(letter == 'Z', body);
    case 'H':
      return parse_set_thread(body);
    case 'T': {
      auto thread = parse_thread_id(body);
      if (!thread) return std::unexpected(thread.error());
      return ThreadAlive{*thread};
    }
    default:
      return Unknown{std::string(payload)};
  }
}

}  // namespace

std::vector<std::string_view> split_fields(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    out.push_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

Expected<uint64_t> parse_hex_field(std::string_view text, std::string_view what) {
  auto value = parse_hex_u64(text);
  if (!value) return fail(fmt::format("bad hex {} '{}'", what, text));
  return *value;
}

Expected<int> parse_signal(std::string_view text) {
  auto sig = parse_hex_u64(text);
  if (!sig || text.size() != 2) return fail(fmt::format("bad signal number '{}'", text));
  return static_cast<int>(*sig);
}

// One thread-id field: "-1", "0", or a positive hex number.
static Expected<int> parse_id_part(std::string_view text) {
  if (text == "-1") return ThreadId::kAll;
  auto value = parse_hex_u64(text);
  if (!value || *value > 0x7fffffff) return fail(fmt::format("bad thread id '{}'", text));
  return static_cast<int>(*value);
}

Expected<ThreadId> parse_thread_id(std::string_view text) {
  ThreadId id;
  if (!text.empty() && text[0] == 'p') {
    text.remove_prefix(1);
    size_t dot = text.find('.');
    auto pid = parse_id_part(text.substr(0, dot));
    if (!pid) return std::unexpected(pid.error());
    id.pid = *pid;
    if (dot == std::string_view::npos) {
      id.tid = ThreadId::kAll;  // "p<pid>" means all of its threads
      return id;
    }
    text = text.substr(dot + 1);
  }
  auto tid = parse_id_part(text);
  if (!tid) return std::unexpected(tid.error());
  id.tid = *tid;
  return id;
}

Expected<Request> parse_request(std::string_view payload) {
  if (payload.empty()) return fail("empty packet");
  char letter = payload[0];
  std::string_view body = payload.substr(1);
  switch (letter) {
    case 'q':
      return parse_query(payload);
    case 'Q':
      return parse_set(payload);
    case 'v':
      return parse_v_packet(payload);
    case 'b':
      if (payload == "bc") return ReverseContinue{};
      if (payload == "bs") return ReverseStep{};
      return Unknown{std::string(payload)};
    case 'k':
      return Kill{};
    case 'D': {
      auto pid = parse_optional_pid(body);
      if (!pid) return std::unexpected(pid.error());
      return Detach{*pid};
    }
    default:
      return parse_letter(letter, body, payload);
  }
}

}  // namespace rrl::gdb
