// gdbserver packet codec and request parsing, on literal byte strings.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "gdbserver/packet.h"
#include "gdbserver/request.h"

using namespace rrl::gdb;
using Kind = PacketEvent::Kind;

namespace {

std::vector<PacketEvent> drain(PacketDecoder& d) {
  std::vector<PacketEvent> out;
  while (auto ev = d.next()) out.push_back(*ev);
  return out;
}

template <typename T>
T parsed(std::string_view payload) {
  auto req = parse_request(payload);
  REQUIRE(req.has_value());
  const T* typed = std::get_if<T>(&*req);
  REQUIRE(typed != nullptr);
  return *typed;
}

}  // namespace

TEST_CASE("gdb packet: a whole packet with its checksum", "[gdb]") {
  PacketDecoder d;
  d.feed(std::string_view("$qC#b4"));
  auto events = drain(d);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == Kind::kPacket);
  CHECK(events[0].payload == "qC");
  CHECK(d.pending_bytes() == 0);
}

TEST_CASE("gdb packet: split across feeds, garbage skipped, acks and Ctrl-C", "[gdb]") {
  PacketDecoder d;
  d.feed(std::string_view("xx+$q"));
  auto first = drain(d);
  REQUIRE(first.size() == 1);
  CHECK(first[0].kind == Kind::kAck);
  d.feed(std::string_view("C#b"));
  CHECK(drain(d).empty());
  d.feed(std::string_view("4-\x03"));
  auto rest = drain(d);
  REQUIRE(rest.size() == 3);
  CHECK(rest[0].kind == Kind::kPacket);
  CHECK(rest[0].payload == "qC");
  CHECK(rest[1].kind == Kind::kNak);
  CHECK(rest[2].kind == Kind::kInterrupt);
}

TEST_CASE("gdb packet: bad checksum needs a nak in ack mode only", "[gdb]") {
  PacketDecoder d;
  d.feed(std::string_view("$qC#b5$?#3f"));
  auto events = drain(d);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == Kind::kNakNeeded);
  CHECK(events[1].kind == Kind::kPacket);
  CHECK(events[1].payload == "?");
  d.set_no_ack(true);
  d.feed(std::string_view("$qC#00"));
  auto unchecked = drain(d);
  REQUIRE(unchecked.size() == 1);
  CHECK(unchecked[0].kind == Kind::kPacket);
  CHECK(unchecked[0].payload == "qC");
  d.feed(std::string_view("$qC#zz"));
  CHECK(drain(d)[0].payload == "qC");
}

TEST_CASE("gdb packet: a restart inside a packet drops the cut-off one", "[gdb]") {
  PacketDecoder d;
  d.feed(std::string_view("$qSupp$qC#b4"));
  auto events = drain(d);
  REQUIRE(events.size() == 1);
  CHECK(events[0].payload == "qC");
}

TEST_CASE("gdb packet: escapes and run-length encoding decode", "[gdb]") {
  PacketDecoder d;
  d.feed(std::string_view("$a}]b#9d$0* #7a$X}\x03}\x04}\x0a#e0"));
  auto events = drain(d);
  REQUIRE(events.size() == 3);
  CHECK(events[0].payload == "a}b");
  CHECK(events[1].payload == "0000");
  CHECK(events[2].kind == Kind::kPacket);
  CHECK(events[2].payload == "X#$*");
  CHECK(decode_payload("ab*\"") == std::optional<std::string>("abbbbbb"));
  CHECK(decode_payload("}") == std::nullopt);
  CHECK(decode_payload("*!") == std::nullopt);
}

TEST_CASE("gdb packet: encoding escapes $ # } *", "[gdb]") {
  CHECK(encode_packet("qC") == "$qC#b4");
  CHECK(encode_packet("") == "$#00");
  CHECK(encode_packet("OK") == "$OK#9a");
  CHECK(encode_packet("a}b") == "$a}]b#9d");
  CHECK(encode_packet("$#*") == "$}\x04}\x03}\x0a#88");
  // What we encode, we decode.
  PacketDecoder d;
  std::string binary = "\x00\x7d\x23\x24\x2a\xff";
  binary.assign("\x00\x7d\x23\x24\x2a\xff", 6);
  d.feed(std::string_view(encode_packet(binary)));
  auto events = drain(d);
  REQUIRE(events.size() == 1);
  CHECK(events[0].payload == binary);
}

TEST_CASE("gdb packet: hex helpers", "[gdb]") {
  CHECK(hex_encode(std::string_view("hi\n")) == "68690a");
  CHECK(hex_decode("00ff7F") == std::optional<std::vector<uint8_t>>({0x00, 0xff, 0x7f}));
  CHECK(hex_decode("0") == std::nullopt);
  CHECK(hex_decode("zz") == std::nullopt);
  CHECK(hex_encode_le(0x401000, 8) == "0010400000000000");
  CHECK(hex_encode_le(0x246, 4) == "46020000");
  CHECK(parse_hex_u64("7ffff7dd1000") == 0x7ffff7dd1000ull);
  CHECK(parse_hex_u64("") == std::nullopt);
  CHECK(parse_hex_u64("12345678901234567") == std::nullopt);
  CHECK(parse_hex_u64("00000000000000000001") == 1u);
  CHECK(hex_u64(0) == "0");
  CHECK(hex_u64(0xabc) == "abc");
}

TEST_CASE("gdb request: thread ids", "[gdb]") {
  CHECK(parse_thread_id("p1.2a") == ThreadId{1, 0x2a});
  CHECK(parse_thread_id("p-1.-1") == ThreadId{-1, -1});
  CHECK(parse_thread_id("p7") == ThreadId{7, -1});
  CHECK(parse_thread_id("1f") == ThreadId{0, 0x1f});
  CHECK(parse_thread_id("0") == ThreadId{0, 0});
  CHECK(parse_thread_id("-1") == ThreadId{0, -1});
  CHECK(!parse_thread_id("p1.").has_value());
  CHECK(!parse_thread_id("").has_value());
  CHECK(!parse_thread_id("pz.1").has_value());
}

TEST_CASE("gdb request: handshake and queries", "[gdb]") {
  auto sup = parsed<QSupported>("qSupported:multiprocess+;swbreak+;xmlRegisters=i386");
  CHECK(sup.features == std::vector<std::string>{"multiprocess+", "swbreak+", "xmlRegisters=i386"});
  CHECK(parsed<QSupported>("qSupported").features.empty());
  parsed<StartNoAckMode>("QStartNoAckMode");
  parsed<HaltReason>("?");
  parsed<CurrentThread>("qC");
  parsed<ThreadListFirst>("qfThreadInfo");
  parsed<ThreadListNext>("qsThreadInfo");
  CHECK(!parsed<Attached>("qAttached").pid);
  CHECK(parsed<Attached>("qAttached:1f").pid == 0x1f);
  parsed<Offsets>("qOffsets");
  CHECK(parsed<SymbolLookup>("qSymbol::").rest == ":");
  parsed<TraceStatus>("qTStatus");
  parsed<MustReplyEmpty>("vMustReplyEmpty");
  CHECK(parsed<ThreadExtraInfo>("qThreadExtraInfo,p1.2").thread == ThreadId{1, 2});
  CHECK(parsed<NonStop>("QNonStop:1").enable);
  CHECK(!parsed<ThreadEvents>("QThreadEvents:0").enable);
  parsed<ListThreadsInStopReplies>("QListThreadsInStopReplies");
  auto pass = parsed<SignalFilter>("QPassSignals:e;14");
  CHECK(!pass.program);
  CHECK(pass.signals == std::vector<int>{14, 20});
  // gdb itself ends the list with a ';'.
  CHECK(parsed<SignalFilter>("QPassSignals:e;14;").signals == std::vector<int>{14, 20});
  CHECK(parsed<SignalFilter>("QProgramSignals:").program);
  CHECK(parsed<VFile>("vFile:open:2f6574632f706173737764,0,0").rest.starts_with("open:"));
  CHECK(parsed<MonitorCommand>("qRcmd,68656c6c6f").command == "hello");
  CHECK(parsed<Unknown>("qFoo").payload == "qFoo");
  CHECK(parsed<Unknown>("qCRC:1,2").payload == "qCRC:1,2");
  CHECK(parsed<Unknown>("vRun;2f62696e").payload == "vRun;2f62696e");
  CHECK(parsed<Unknown>("!").payload == "!");
}

TEST_CASE("gdb request: qXfer reads", "[gdb]") {
  auto xml = parsed<XferRead>("qXfer:features:read:target.xml:0,fff");
  CHECK(xml.object == "features");
  CHECK(xml.annex == "target.xml");
  CHECK(xml.offset == 0);
  CHECK(xml.length == 0xfff);
  auto auxv = parsed<XferRead>("qXfer:auxv:read::10,20");
  CHECK(auxv.object == "auxv");
  CHECK(auxv.annex.empty());
  CHECK(auxv.offset == 0x10);
  CHECK(parsed<XferRead>("qXfer:exec-file:read:1f:0,100").annex == "1f");
  CHECK(parsed<XferRead>("qXfer:threads:read::0,100").object == "threads");
  parsed<Unknown>("qXfer:features:write:x:0,1");
}

TEST_CASE("gdb request: registers and memory", "[gdb]") {
  parsed<ReadRegisters>("g");
  CHECK(parsed<WriteRegisters>("G0011").data == std::vector<uint8_t>{0x00, 0x11});
  CHECK(parsed<ReadRegister>("p10").regno == 16);
  auto pw = parsed<WriteRegister>("P10=0010400000000000");
  CHECK(pw.regno == 16);
  CHECK(pw.value.size() == 8);
  auto m = parsed<ReadMemory>("m7ffe0010,40");
  CHECK(m.addr == 0x7ffe0010);
  CHECK(m.length == 0x40);
  auto mw = parsed<WriteMemory>("M1000,2:abcd");
  CHECK(mw.addr == 0x1000);
  CHECK(mw.data == std::vector<uint8_t>{0xab, 0xcd});
  CHECK(!mw.binary);
  auto x = parsed<WriteMemory>("X1000,2:a#");
  CHECK(x.binary);
  CHECK(x.data == std::vector<uint8_t>{'a', '#'});
  CHECK(parsed<WriteMemory>("X1000,0:").data.empty());
}

TEST_CASE("gdb request: resume packets", "[gdb]") {
  auto c = parsed<Resume>("c");
  CHECK(c.kind == VContKind::kContinue);
  CHECK(!c.addr);
  CHECK(parsed<Resume>("s401000").addr == 0x401000u);
  auto cs = parsed<Resume>("C0b;401000");
  CHECK(cs.signal == 11);
  CHECK(cs.addr == 0x401000u);
  auto ss = parsed<Resume>("S05");
  CHECK(ss.kind == VContKind::kStep);
  CHECK(ss.signal == 5);
  parsed<VContQuery>("vCont?");
  auto v = parsed<VCont>("vCont;s:p1.2a;c");
  REQUIRE(v.actions.size() == 2);
  CHECK(v.actions[0].kind == VContKind::kStep);
  CHECK(v.actions[0].thread == ThreadId{1, 0x2a});
  CHECK(v.actions[1].kind == VContKind::kContinue);
  CHECK(!v.actions[1].thread);
  auto v2 = parsed<VCont>("vCont;C0e:2;S05;t:p1.-1;r1000,2000:p1.1");
  REQUIRE(v2.actions.size() == 4);
  CHECK(v2.actions[0].signal == 14);
  CHECK(v2.actions[0].thread == ThreadId{0, 2});
  CHECK(v2.actions[1].kind == VContKind::kStep);
  CHECK(v2.actions[2].kind == VContKind::kStop);
  CHECK(v2.actions[3].kind == VContKind::kRangeStep);
  CHECK(v2.actions[3].range_start == 0x1000);
  CHECK(v2.actions[3].range_end == 0x2000);
  parsed<ReverseContinue>("bc");
  parsed<ReverseStep>("bs");
}

TEST_CASE("gdb request: breakpoints, threads, kill and detach", "[gdb]") {
  auto z = parsed<Breakpoint>("Z0,401000,1");
  CHECK(z.insert);
  CHECK(z.type == BreakpointType::kSoftware);
  CHECK(z.addr == 0x401000);
  CHECK(z.kind == 1);
  auto w = parsed<Breakpoint>("z2,7ffe0000,8");
  CHECK(!w.insert);
  CHECK(w.type == BreakpointType::kWriteWatch);
  CHECK(parsed<Breakpoint>("Z4,10,4").type == BreakpointType::kAccessWatch);
  parsed<Unknown>("Z5,10,4");
  auto hg = parsed<SetThread>("Hgp1.2");
  CHECK(hg.op == 'g');
  CHECK(hg.thread == ThreadId{1, 2});
  CHECK(parsed<SetThread>("Hc-1").thread == ThreadId{0, -1});
  CHECK(parsed<ThreadAlive>("Tp1.2").thread == ThreadId{1, 2});
  auto k = parsed<Kill>("k");
  CHECK(!k.vkill);
  auto vk = parsed<Kill>("vKill;7b");
  CHECK(vk.vkill);
  CHECK(vk.pid == 0x7b);
  CHECK(!parsed<Detach>("D").pid);
  CHECK(parsed<Detach>("D;7b").pid == 0x7b);
}

TEST_CASE("gdb request: malformed packets are errors, not crashes", "[gdb]") {
  for (std::string_view bad : {"",
                               "m",
                               "m1000",
                               "m1000,",
                               "mzz,4",
                               "m1000,4,5",
                               "M1000,2:ab",
                               "M1000,1:zz",
                               "M1000,1",
                               "G0",
                               "Gzz",
                               "pxyz",
                               "p",
                               "P10",
                               "P10=",
                               "P10=0",
                               "Cz",
                               "C5",
                               "C05;",
                               "sxyz",
                               "Z0,1",
                               "Z0,zz,1",
                               "Zq,1,1",
                               "H",
                               "Hx1",
                               "Hgp",
                               "T",
                               "Tq",
                               "vCont;",
                               "vCont",
                               "vCont;x",
                               "vCont;c:",
                               "vCont;C",
                               "vCont;r1000",
                               "vCont;cc",
                               "qRcmd,6",
                               "qXfer:auxv:read::0",
                               "qXfer:auxv:read::zz,1",
                               "qXfer:auxv",
                               "QNonStop:2",
                               "QPassSignals:zz",
                               "vKill;",
                               "D;",
                               "Dx",
                               "qAttached:q",
                               "qThreadExtraInfo,"}) {
    INFO("packet: " << bad);
    CHECK(!parse_request(bad).has_value());
  }
}
