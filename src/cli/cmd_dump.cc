#include <signal.h>
#include <string.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "cli/json.h"
#include "common/log.h"
#include "common/syscalls.h"
#include "trace/trace_dir.h"
#include "trace/trace_reader.h"

namespace rrl::cli {

namespace {

constexpr const char* kDumpUsage = R"(usage: rr-like dump [TRACE]

Print the events of TRACE (a directory or a trace name; default: the latest
trace) as one JSON object per line: event number, tid, kind and the kind's
details (for syscalls: name, arguments, result and the memory they wrote).
Events that happened at an arbitrary point of the program (a time slice that
ran out, a signal delivered in the middle of user code), which replay has to
search for, carry "arbitrary_point":true.
)";

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

std::string writes_json(const std::vector<trace::MemWrite>& writes, uint64_t* total) {
  std::string out = "[";
  for (const auto& w : writes) {
    if (out.size() > 1) out += ",";
    out += JsonObject().hex("addr", w.addr).unum("len", w.data.size()).done();
    *total += w.data.size();
  }
  return out + "]";
}

void describe(JsonObject& o, const trace::SyscallEvent& e) {
  o.str("syscall", syscalls::name(e.syscallno)).num("nr", e.syscallno);
  std::string args = "[";
  for (size_t i = 0; i < e.args.size(); ++i)
    args += (i ? "," : "") + std::to_string(static_cast<int64_t>(e.args[i]));
  o.raw("args", args + "]").num("result", e.regs.result());
  uint64_t total = 0;
  std::string writes = writes_json(e.writes, &total);
  o.unum("bytes_written", total).raw("writes", writes);
  if (e.flags & trace::SyscallEvent::kRefused) o.boolean("refused", true);
  if (e.flags & trace::SyscallEvent::kUnknown) o.boolean("unknown", true);
  if (e.flags & trace::SyscallEvent::kInterrupted) o.boolean("interrupted", true);
}

void describe(JsonObject& o, const trace::SignalEvent& e) {
  siginfo_t si;
  std::memcpy(&si, e.siginfo.data(), sizeof si);
  const char* abbrev = sigabbrev_np(e.signo);
  o.num("signo", e.signo).str("signal", abbrev ? std::string("SIG") + abbrev : "?");
  o.num("code", si.si_code).hex("ip", e.regs.ip()).boolean("synchronous", e.deterministic);
  if (!e.progress.empty()) o.unum("progress_words", e.progress.size());
}

void describe(JsonObject& o, const trace::ExecEvent& e) {
  std::string argv = "[";
  for (size_t i = 0; i < e.argv.size(); ++i)
    argv += (i ? ",\"" : "\"") + json_escape(e.argv[i]) + "\"";
  o.str("path", e.path).str("trace_file", e.trace_file).raw("argv", argv + "]");
  o.unum("mappings", e.mappings.size()).hex("entry_ip", e.regs.ip());
}

void describe(JsonObject& o, const trace::MmapEvent& e) {
  o.hex("start", e.mapping.start).hex("end", e.mapping.end).unum("offset", e.mapping.offset);
  o.str("path", e.mapping.path).str("trace_file", e.mapping.trace_file);
}

void describe(JsonObject& o, const trace::CloneEvent& e) {
  static const char* kinds[] = {"fork", "vfork", "thread"};
  o.num("new_tid", e.new_tid)
      .str("clone_kind", e.kind < 3 ? kinds[e.kind] : "?")
      .hex("flags", e.flags);
}

void describe(JsonObject& o, const trace::ExitEvent& e) {
  o.num("wait_status", e.wait_status);
}

void describe(JsonObject& o, const trace::RdtscEvent& e) {
  o.unum("tsc", e.tsc).boolean("rdtscp", e.rdtscp).hex("ip", e.regs.ip());
}

void describe(JsonObject& o, const trace::PatchEvent& e) {
  uint64_t total = 0;
  std::string writes = writes_json(e.writes, &total);
  o.str("what", e.what).unum("bytes_written", total).raw("writes", writes);
  if (e.restart_ip != 0) o.hex("restart_ip", e.restart_ip).num("restart_nr", e.restart_nr);
}

void describe(JsonObject& o, const trace::BufferedSyscallEvent& e) {
  o.str("syscall", syscalls::name(e.syscallno)).num("nr", e.syscallno);
  std::string args = "[";
  for (size_t i = 0; i < e.args.size(); ++i)
    args += (i ? "," : "") + std::to_string(static_cast<int64_t>(e.args[i]));
  o.raw("args", args + "]").num("result", e.result);
  uint64_t total = 0;
  std::string writes = writes_json(e.writes, &total);
  o.unum("bytes_written", total).raw("writes", writes);
}

void describe(JsonObject& o, const trace::PreloadEvent& e) {
  o.unum("version", e.version).hex("code_addr", e.code_addr).unum("code_bytes", e.code.size());
  o.hex("untraced_ip", e.untraced_ip).unum("buffer_size", e.buffer_size);
}

void describe(JsonObject& o, const trace::SyscallEntryEvent& e) {
  o.str("syscall", syscalls::name(e.syscallno)).num("nr", e.syscallno);
}

void describe(JsonObject& o, const trace::SchedEvent& e) {
  o.hex("ip", e.regs.ip()).unum("progress_words", e.progress.size());
}

// Tells which events the recorder placed at an arbitrary point: every time-slice
// switch, and every signal that was sent (not raised by an instruction) and
// delivered elsewhere than where the task's last syscall left it, the rule of
// recorder/signals.cc. Replay finds such points by searching (fast_search.cc).
class ArbitraryPoints {
 public:
  bool at_arbitrary_point(const trace::Event& ev) {
    if (const auto* sc = std::get_if<trace::SyscallEvent>(&ev.data)) {
      boundary_[ev.tid] = sc->regs;
      return false;
    }
    if (std::holds_alternative<trace::SchedEvent>(ev.data)) return true;
    const auto* sig = std::get_if<trace::SignalEvent>(&ev.data);
    if (!sig || sig->deterministic) return false;
    auto it = boundary_.find(ev.tid);
    return it == boundary_.end() ||
           std::memcmp(&it->second.r, &sig->regs.r, sizeof sig->regs.r) != 0;
  }

 private:
  std::map<int32_t, Registers> boundary_;  // registers at each task's last syscall exit
};

}  // namespace

int cmd_dump(const std::vector<std::string>& args) {
  std::optional<std::string> name;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(kDumpUsage, stdout);
      return 0;
    }
    if (!a.empty() && a[0] == '-') return usage_error("unknown option '" + a + "'", "dump");
    if (name) return usage_error("more than one trace given", "dump");
    name = a;
  }
  auto dir = trace::resolve_trace_dir(name);
  if (!dir) {
    print_error(dir.error().describe());
    return kExitError;
  }
  auto reader = trace::TraceReader::open(*dir);
  if (!reader) {
    print_error(reader.error().describe());
    return kExitError;
  }
  ArbitraryPoints arbitrary;
  while (true) {
    auto ev = reader->next();
    if (!ev) {
      std::fflush(stdout);
      print_error(ev.error().describe());
      return kExitError;
    }
    if (!*ev) break;
    JsonObject o;
    o.unum("event", (*ev)->number)
        .num("tid", (*ev)->tid)
        .str("kind", trace::kind_name((*ev)->data));
    std::visit([&](const auto& d) { describe(o, d); }, (*ev)->data);
    if (arbitrary.at_arbitrary_point(**ev)) o.boolean("arbitrary_point", true);
    std::printf("%s\n", o.done().c_str());
  }
  return 0;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace rrl::cli
