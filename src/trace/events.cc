#include "trace/events.h"

#include <cstring>
#include <type_traits>

namespace rrl::trace {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

void put_regs(ByteWriter& w, const Registers& r) {
  w.u8(static_cast<uint8_t>(r.arch));
  w.raw(&r.r, sizeof r.r);
}
Registers get_regs(ByteReader& rd) {
  Registers r;
  r.arch = static_cast<Arch>(rd.u8());
  rd.raw(&r.r, sizeof r.r);
  return r;
}

void put_writes(ByteWriter& w, const std::vector<MemWrite>& ws) {
  w.u64(ws.size());
  for (const auto& m : ws) {
    w.u64(m.addr);
    w.bytes(m.data);
  }
}
std::vector<MemWrite> get_writes(ByteReader& rd) {
  std::vector<MemWrite> ws;
  uint64_t n = rd.u64();
  for (uint64_t i = 0; i < n && rd.ok(); ++i) {
    MemWrite m;
    m.addr = rd.u64();
    m.data = rd.bytes();
    ws.push_back(std::move(m));
  }
  return ws;
}

void put_words(ByteWriter& w, const std::vector<MemWord>& ws) {
  w.u64(ws.size());
  for (const auto& m : ws) {
    w.u64(m.addr);
    w.u64(m.value);
  }
}
void put_count(ByteWriter& w, const std::optional<uint64_t>& n) {
  w.u8(n.has_value());
  w.u64(n.value_or(0));
}
std::optional<uint64_t> get_count(ByteReader& rd) {
  bool has = rd.u8() != 0;
  uint64_t n = rd.u64();
  return has ? std::optional<uint64_t>(n) : std::nullopt;
}

std::vector<MemWord> get_words(ByteReader& rd) {
  std::vector<MemWord> ws;
  uint64_t n = rd.u64();
  for (uint64_t i = 0; i < n && rd.ok(); ++i) {
    MemWord m;
    m.addr = rd.u64();
    m.value = rd.u64();
    ws.push_back(m);
  }
  return ws;
}

void put_mapping(ByteWriter& w, const MappingRecord& m) {
  w.u64(m.start);
  w.u64(m.end);
  w.u64(m.offset);
  w.u32(m.prot);
  w.u32(m.flags);
  w.str(m.path);
  w.str(m.trace_file);
  w.u64(m.dev);
  w.u64(m.inode);
}
MappingRecord get_mapping(ByteReader& rd) {
  MappingRecord m;
  m.start = rd.u64();
  m.end = rd.u64();
  m.offset = rd.u64();
  m.prot = rd.u32();
  m.flags = rd.u32();
  m.path = rd.str();
  m.trace_file = rd.str();
  m.dev = rd.u64();
  m.inode = rd.u64();
  return m;
}

void put(ByteWriter& w, const SyscallEvent& e) {
  w.i64(e.syscallno);
  for (auto a : e.args) w.u64(a);
  put_regs(w, e.regs);
  w.u8(e.flags);
  put_writes(w, e.writes);
  w.bytes(e.output);
}
void get(ByteReader& rd, SyscallEvent& e) {
  e.syscallno = rd.i64();
  for (auto& a : e.args) a = rd.u64();
  e.regs = get_regs(rd);
  e.flags = rd.u8();
  e.writes = get_writes(rd);
  e.output = rd.bytes();
}

void put(ByteWriter& w, const SignalEvent& e) {
  w.u32(static_cast<uint32_t>(e.signo));
  w.raw(e.siginfo.data(), e.siginfo.size());
  put_regs(w, e.regs);
  w.u8(e.deterministic);
  put_words(w, e.progress);
  w.u8(e.arbitrary);
  put_count(w, e.branches);
}
void get(ByteReader& rd, SignalEvent& e) {
  e.signo = static_cast<int32_t>(rd.u32());
  rd.raw(e.siginfo.data(), e.siginfo.size());
  e.regs = get_regs(rd);
  e.deterministic = rd.u8() != 0;
  e.progress = get_words(rd);
  e.arbitrary = rd.u8() != 0;
  e.branches = get_count(rd);
}

void put(ByteWriter& w, const RdtscEvent& e) {
  w.u64(e.tsc);
  w.u32(e.aux);
  w.u8(e.rdtscp);
  put_regs(w, e.regs);
}
void get(ByteReader& rd, RdtscEvent& e) {
  e.tsc = rd.u64();
  e.aux = rd.u32();
  e.rdtscp = rd.u8() != 0;
  e.regs = get_regs(rd);
}

void put(ByteWriter& w, const ExecEvent& e) {
  w.str(e.path);
  w.str(e.trace_file);
  w.strings(e.argv);
  w.strings(e.envp);
  w.bytes(e.auxv);
  w.raw(e.at_random.data(), e.at_random.size());
  put_regs(w, e.regs);
  w.u64(e.mappings.size());
  for (const auto& m : e.mappings) put_mapping(w, m);
  w.u64(e.stack_start);
  w.bytes(e.stack);
  w.u32(static_cast<uint32_t>(e.former_tid));
}
void get(ByteReader& rd, ExecEvent& e) {
  e.path = rd.str();
  e.trace_file = rd.str();
  e.argv = rd.strings();
  e.envp = rd.strings();
  e.auxv = rd.bytes();
  rd.raw(e.at_random.data(), e.at_random.size());
  e.regs = get_regs(rd);
  uint64_t n = rd.u64();
  for (uint64_t i = 0; i < n && rd.ok(); ++i) e.mappings.push_back(get_mapping(rd));
  e.stack_start = rd.u64();
  e.stack = rd.bytes();
  e.former_tid = static_cast<int32_t>(rd.u32());
}

void put(ByteWriter& w, const MmapEvent& e) {
  put_mapping(w, e.mapping);
}
void get(ByteReader& rd, MmapEvent& e) {
  e.mapping = get_mapping(rd);
}

void put(ByteWriter& w, const CloneEvent& e) {
  w.u32(static_cast<uint32_t>(e.new_tid));
  w.u8(e.kind);
  w.u64(e.flags);
}
void get(ByteReader& rd, CloneEvent& e) {
  e.new_tid = static_cast<int32_t>(rd.u32());
  e.kind = rd.u8();
  e.flags = rd.u64();
}

void put(ByteWriter& w, const ExitEvent& e) {
  w.u32(static_cast<uint32_t>(e.wait_status));
}
void get(ByteReader& rd, ExitEvent& e) {
  e.wait_status = static_cast<int32_t>(rd.u32());
}

void put(ByteWriter& w, const PatchEvent& e) {
  w.str(e.what);
  put_writes(w, e.writes);
  w.u64(e.restart_ip);
  w.i64(e.restart_nr);
  w.u8(e.deferred ? 1 : 0);
  w.u32(static_cast<uint32_t>(e.requested_by));
  w.u32(e.waits);
}
void get(ByteReader& rd, PatchEvent& e) {
  e.what = rd.str();
  e.writes = get_writes(rd);
  e.restart_ip = rd.u64();
  e.restart_nr = rd.i64();
  e.deferred = rd.u8() != 0;
  e.requested_by = static_cast<int32_t>(rd.u32());
  e.waits = rd.u32();
}

void put(ByteWriter& w, const BufferedSyscallEvent& e) {
  w.i64(e.syscallno);
  for (uint64_t a : e.args) w.u64(a);
  w.i64(e.result);
  w.u8(e.flags);
  put_writes(w, e.writes);
}
void get(ByteReader& rd, BufferedSyscallEvent& e) {
  e.syscallno = rd.i64();
  for (auto& a : e.args) a = rd.u64();
  e.result = rd.i64();
  e.flags = rd.u8();
  e.writes = get_writes(rd);
}

void put(ByteWriter& w, const PreloadEvent& e) {
  w.u32(e.version);
  w.u64(e.code_addr);
  w.bytes(e.code);
  w.u64(e.code_size);
  w.u64(e.stubs_size);
  w.u64(e.buffer_size);
  w.u64(e.untraced_ip);
}
void get(ByteReader& rd, PreloadEvent& e) {
  e.version = rd.u32();
  e.code_addr = rd.u64();
  e.code = rd.bytes();
  e.code_size = rd.u64();
  e.stubs_size = rd.u64();
  e.buffer_size = rd.u64();
  e.untraced_ip = rd.u64();
}

void put(ByteWriter& w, const SyscallEntryEvent& e) {
  w.i64(e.syscallno);
}
void get(ByteReader& rd, SyscallEntryEvent& e) {
  e.syscallno = rd.i64();
}

void put(ByteWriter& w, const SchedEvent& e) {
  put_regs(w, e.regs);
  put_words(w, e.progress);
  put_count(w, e.branches);
}
void get(ByteReader& rd, SchedEvent& e) {
  e.regs = get_regs(rd);
  e.progress = get_words(rd);
  e.branches = get_count(rd);
}

template <size_t I = 0>
bool decode_alternative(size_t index, ByteReader& rd, EventData& out) {
  if constexpr (I < std::variant_size_v<EventData>) {
    if (index == I) {
      std::variant_alternative_t<I, EventData> v;
      get(rd, v);
      out = std::move(v);
      return true;
    }
    return decode_alternative<I + 1>(index, rd, out);
  } else {
    return false;
  }
}

}  // namespace

const char* kind_name(const EventData& d) {
  return std::visit(Overloaded{
                        [](const SyscallEvent&) { return "syscall"; },
                        [](const SignalEvent&) { return "signal"; },
                        [](const RdtscEvent&) { return "rdtsc"; },
                        [](const ExecEvent&) { return "exec"; },
                        [](const MmapEvent&) { return "mmap"; },
                        [](const CloneEvent&) { return "clone"; },
                        [](const ExitEvent&) { return "exit"; },
                        [](const PatchEvent&) { return "patch"; },
                        [](const SyscallEntryEvent&) { return "syscall_entry"; },
                        [](const SchedEvent&) { return "sched"; },
                        [](const BufferedSyscallEvent&) { return "buffered_syscall"; },
                        [](const PreloadEvent&) { return "preload"; },
                    },
                    d);
}

void encode_event(const Event& ev, ByteWriter& w) {
  w.u8(static_cast<uint8_t>(ev.data.index()));
  w.u64(ev.number);
  w.u32(static_cast<uint32_t>(ev.tid));
  std::visit([&](const auto& d) { put(w, d); }, ev.data);
}

void encode_buffered(uint64_t number, int32_t tid, const BufferedSyscallView& e, ByteWriter& w) {
  static const auto kIndex =
      static_cast<uint8_t>(EventData(std::in_place_type<BufferedSyscallEvent>).index());
  w.u8(kIndex);
  w.u64(number);
  w.u32(static_cast<uint32_t>(tid));
  w.i64(e.syscallno);
  for (uint64_t a : e.args) w.u64(a);
  w.i64(e.result);
  w.u8(e.flags);
  w.u64(e.writes.size());
  for (const auto& m : e.writes) {
    w.u64(m.addr);
    w.bytes(m.data);
  }
}

Expected<Event> decode_event(std::span<const uint8_t> bytes) {
  ByteReader rd(bytes);
  Event ev;
  size_t index = rd.u8();
  ev.number = rd.u64();
  ev.tid = static_cast<int32_t>(rd.u32());
  if (!rd.ok() || !decode_alternative(index, rd, ev.data))
    return fail("corrupt trace: unknown event kind " + std::to_string(index));
  if (!rd.ok() || !rd.at_end()) return fail("corrupt trace: malformed event record");
  return ev;
}

}  // namespace rrl::trace
