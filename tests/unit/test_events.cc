// encode_event / decode_event: every event kind survives a round trip with
// every field intact, and a cut-short encoding is refused.
#include <catch2/catch.hpp>
#include <cstring>

#include "trace/events.h"

using namespace rrl;
using namespace rrl::trace;

namespace {

Registers sample_regs(uint64_t seed, Arch arch = Arch::kX86_64) {
  Registers r;
  r.arch = arch;
  auto* words = reinterpret_cast<uint64_t*>(&r.r);
  for (size_t i = 0; i < sizeof r.r / sizeof(uint64_t); ++i)
    words[i] = seed * 0x9e3779b97f4a7c15ull + i;
  return r;
}

bool same_regs(const Registers& a, const Registers& b) {
  return a.arch == b.arch && std::memcmp(&a.r, &b.r, sizeof a.r) == 0;
}

bool same_writes(const std::vector<MemWrite>& a, const std::vector<MemWrite>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].addr != b[i].addr || a[i].data != b[i].data) return false;
  }
  return true;
}

bool same_mapping(const MappingRecord& a, const MappingRecord& b) {
  return a.start == b.start && a.end == b.end && a.offset == b.offset && a.prot == b.prot &&
         a.flags == b.flags && a.path == b.path && a.trace_file == b.trace_file && a.dev == b.dev &&
         a.inode == b.inode;
}

MappingRecord sample_mapping(uint64_t base) {
  return MappingRecord{base,  base + 0x3000, 0x1000, 5, 2, "/usr/lib/libc.so.6", "00003-libc.so.6",
                       0x803, 123456789};
}

std::vector<uint8_t> encode(const Event& ev) {
  ByteWriter w;
  encode_event(ev, w);
  return w.take();
}

// Encodes, decodes, and checks the envelope; returns the decoded payload.
template <typename T>
T round_trip(const T& data) {
  Event ev{0x123456789abcull, -77, data};
  auto decoded = decode_event(encode(ev));
  REQUIRE(decoded);
  CHECK(decoded->number == ev.number);
  CHECK(decoded->tid == ev.tid);
  REQUIRE(std::holds_alternative<T>(decoded->data));
  return std::get<T>(decoded->data);
}

}  // namespace

TEST_CASE("syscall event round trip", "[events]") {
  SyscallEvent e;
  e.syscallno = 257;
  e.args = {1, 0xffffffffffffff9cull, 3, 4, 5, 0x7fff00001234};
  e.regs = sample_regs(1);
  e.flags = SyscallEvent::kInterrupted | SyscallEvent::kUnknown;
  e.writes = {{0x7ffc0000, {1, 2, 3}}, {0x1000, std::vector<uint8_t>(5000, 0xab)}, {0x2000, {}}};
  auto d = round_trip(e);
  CHECK(d.syscallno == e.syscallno);
  CHECK(d.args == e.args);
  CHECK(same_regs(d.regs, e.regs));
  CHECK(d.flags == e.flags);
  CHECK(same_writes(d.writes, e.writes));
}

TEST_CASE("signal event round trip", "[events]") {
  SignalEvent e;
  e.signo = SIGSEGV;
  for (size_t i = 0; i < e.siginfo.size(); ++i) e.siginfo[i] = static_cast<uint8_t>(i * 7 + 1);
  e.regs = sample_regs(2, Arch::kX86);
  e.deterministic = true;
  e.progress = {{0x7ffc0010, 42}, {0x601040, 0xffffffffffffffffull}};
  e.arbitrary = true;
  e.branches = 123456789012ull;
  auto d = round_trip(e);
  CHECK(d.progress == e.progress);
  CHECK(d.arbitrary);
  CHECK(d.branches == std::optional<uint64_t>(123456789012ull));
  CHECK(d.signo == SIGSEGV);
  CHECK(d.siginfo == e.siginfo);
  CHECK(same_regs(d.regs, e.regs));
  CHECK(d.deterministic);
}

TEST_CASE("rdtsc event round trip", "[events]") {
  RdtscEvent e{0xfedcba9876543210ull, 7, true, sample_regs(3)};
  auto d = round_trip(e);
  CHECK(d.tsc == e.tsc);
  CHECK(d.aux == 7);
  CHECK(d.rdtscp);
  CHECK(same_regs(d.regs, e.regs));
}

TEST_CASE("exec event round trip", "[events]") {
  ExecEvent e;
  e.path = "/usr/bin/true";
  e.trace_file = "00000-true";
  e.argv = {"true", "", "an argument with spaces"};
  e.envp = {"HOME=/root", "LANG=C.UTF-8"};
  e.auxv = {6, 0, 0, 0, 0, 0x10, 0, 0};
  for (size_t i = 0; i < e.at_random.size(); ++i) e.at_random[i] = static_cast<uint8_t>(0xf0 + i);
  e.regs = sample_regs(4);
  e.mappings = {sample_mapping(0x400000), sample_mapping(0x7f0000000000)};
  e.mappings[1].trace_file = "";
  e.stack_start = 0x7ffffffde000;
  e.stack = std::vector<uint8_t>(4096, 0x5a);
  e.former_tid = 4242;
  auto d = round_trip(e);
  CHECK(d.path == e.path);
  CHECK(d.trace_file == e.trace_file);
  CHECK(d.argv == e.argv);
  CHECK(d.envp == e.envp);
  CHECK(d.auxv == e.auxv);
  CHECK(d.at_random == e.at_random);
  CHECK(same_regs(d.regs, e.regs));
  REQUIRE(d.mappings.size() == 2);
  CHECK(same_mapping(d.mappings[0], e.mappings[0]));
  CHECK(same_mapping(d.mappings[1], e.mappings[1]));
  CHECK(d.stack_start == e.stack_start);
  CHECK(d.stack == e.stack);
  CHECK(d.former_tid == e.former_tid);
}

TEST_CASE("mmap, clone, exit and patch events round trip", "[events]") {
  MmapEvent m{sample_mapping(0x7f1234560000)};
  CHECK(same_mapping(round_trip(m).mapping, m.mapping));

  CloneEvent c{4242, CloneEvent::kThread, 0x3d0f00};
  auto dc = round_trip(c);
  CHECK(dc.new_tid == 4242);
  CHECK(dc.kind == CloneEvent::kThread);
  CHECK(dc.flags == 0x3d0f00);

  ExitEvent x{(SIGKILL & 0x7f) | 0x80};
  CHECK(round_trip(x).wait_status == x.wait_status);

  PatchEvent p{"vdso clock_gettime", {{0x7fff1000, {0x0f, 0x05, 0xc3}}}};
  auto dp = round_trip(p);
  CHECK(dp.what == p.what);
  CHECK(same_writes(dp.writes, p.writes));
  CHECK(dp.restart_ip == 0);

  PatchEvent restart{"site", {{0x7fff2000, {0xe9, 1, 2, 3, 4}}}, 0x7fff2000, 228};
  auto dr = round_trip(restart);
  CHECK(dr.restart_ip == 0x7fff2000);
  CHECK(dr.restart_nr == 228);
}

TEST_CASE("buffered syscall and preload events round trip", "[events]") {
  BufferedSyscallEvent b{0,
                         {3, 0x1000, 64, 0, 0, 0},
                         17,
                         SyscallEvent::kToStdout,
                         {{0x1000, std::vector<uint8_t>(17, 0x42)}}};
  auto db = round_trip(b);
  CHECK(db.syscallno == 0);
  CHECK(db.args == b.args);
  CHECK(db.result == 17);
  CHECK(db.flags == SyscallEvent::kToStdout);
  CHECK(same_writes(db.writes, b.writes));

  PreloadEvent p{1, 0x7fffb0000000, {0x0f, 0x05, 0xc3}, 0x10000, 0x40000, 0x200000, 0x7fffb0000123};
  auto dp = round_trip(p);
  CHECK(dp.version == 1);
  CHECK(dp.code_addr == p.code_addr);
  CHECK(dp.code == p.code);
  CHECK(dp.code_size == p.code_size);
  CHECK(dp.stubs_size == p.stubs_size);
  CHECK(dp.buffer_size == p.buffer_size);
  CHECK(dp.untraced_ip == p.untraced_ip);
  CHECK(std::string(kind_name(EventData{b})) == "buffered_syscall");
  CHECK(std::string(kind_name(EventData{p})) == "preload");
}

TEST_CASE("encode_buffered gives encode_event's bytes", "[events]") {
  BufferedSyscallEvent b{17,
                         {3, 0x1000, 64, 5, 0, 0},
                         40,
                         SyscallEvent::kToStderr,
                         {{0x1000, std::vector<uint8_t>(40, 0x42)}, {0x2000, {1, 2, 3, 4, 5, 6, 7, 8}}}};
  Event ev{1234, 77, b};
  ByteWriter whole;
  encode_event(ev, whole);
  const uint64_t args[6] = {3, 0x1000, 64, 5, 0, 0};
  BufferedSyscallView::Write writes[2] = {{0x1000, b.writes[0].data}, {0x2000, b.writes[1].data}};
  ByteWriter parts;
  encode_buffered(1234, 77, {17, std::span<const uint64_t, 6>(args, 6), 40, SyscallEvent::kToStderr, writes},
                  parts);
  CHECK(parts.data() == whole.data());
  auto back = decode_event(parts.data());
  REQUIRE(back);
  CHECK(back->number == 1234);
  CHECK(std::get<BufferedSyscallEvent>(back->data).writes.size() == 2);
  // Without writes too.
  ByteWriter none;
  encode_buffered(9, 1, {39, std::span<const uint64_t, 6>(args, 6), 1000, 0, {}}, none);
  ByteWriter none_whole;
  encode_event(Event{9, 1, BufferedSyscallEvent{39, {3, 0x1000, 64, 5, 0, 0}, 1000, 0, {}}}, none_whole);
  CHECK(none.data() == none_whole.data());
}

TEST_CASE("syscall entry and sched events round trip", "[events]") {
  CHECK(round_trip(SyscallEntryEvent{-38}).syscallno == -38);
  SchedEvent s{sample_regs(6), {{0x1000, 7}}, std::nullopt};
  CHECK(same_regs(round_trip(s).regs, s.regs));
  CHECK(round_trip(s).progress == s.progress);
  CHECK(!round_trip(s).branches.has_value());
  s.branches = 0;  // a count of zero is a count
  CHECK(round_trip(s).branches == std::optional<uint64_t>(0));
}

// Every alternative of EventData needs a case above: this fails when a kind
// is added without one.
static_assert(std::variant_size_v<EventData> == 12, "add a round-trip test for the new event kind");

TEST_CASE("kind names", "[events]") {
  CHECK(std::string(kind_name(EventData{SyscallEvent{}})) == "syscall");
  CHECK(std::string(kind_name(EventData{PatchEvent{}})) == "patch");
}

TEST_CASE("a truncated or padded encoding is refused", "[events]") {
  SyscallEvent e;
  e.syscallno = 0;
  e.regs = sample_regs(5);
  e.writes = {{0x1000, {9, 8, 7, 6}}};
  auto bytes = encode(Event{1, 2, e});
  REQUIRE(decode_event(bytes));
  for (size_t len : {size_t{0}, size_t{1}, size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
    INFO("cut at " << len);
    auto cut = std::span<const uint8_t>(bytes).first(len);
    CHECK_FALSE(decode_event(cut));
  }
  bytes.push_back(0);
  CHECK_FALSE(decode_event(bytes));
}

TEST_CASE("an unknown event kind is refused", "[events]") {
  auto bytes = encode(Event{1, 2, ExitEvent{0}});
  bytes[0] = 200;
  auto d = decode_event(bytes);
  REQUIRE_FALSE(d);
  CHECK(d.error().message.find("unknown event kind") != std::string::npos);
}
