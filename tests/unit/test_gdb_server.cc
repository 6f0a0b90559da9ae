// gdbserver: register encoding for 'g'/'p', the target description, and whole
// sessions of GdbServer against a fake Target over a socketpair (the "gdb"
// side is a byte string written up front), plus the loopback listener.
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/scoped_fd.h"
#include "gdbserver/connection.h"
#include "gdbserver/packet.h"
#include "gdbserver/reply.h"
#include "gdbserver/server.h"
#include "gdbserver/target_xml.h"

using namespace rrl;
using namespace rrl::gdb;

namespace {

constexpr ThreadRef kMain{0x64, 0x65};
constexpr ThreadRef kSecond{0x64, 0x66};

Registers sample_regs() {
  Registers regs;
  regs.r.rax = 0x1122334455667788;
  regs.r.r15 = 0xf15;
  regs.r.rip = 0x401000;
  regs.r.eflags = 0x246;
  regs.r.cs = 0x33;
  regs.r.orig_rax = static_cast<unsigned long long>(-1);
  regs.r.fs_base = 0x7ffff7d8a740;
  return regs;
}

user_fpregs_struct sample_fpregs() {
  user_fpregs_struct fp{};
  fp.cwd = 0x37f;
  fp.mxcsr = 0x1f80;
  fp.xmm_space[0] = 0x03020100;  // xmm0 bytes 00 01 02 03 ...
  return fp;
}

std::string reg_hex(const std::string& g, int regno) {
  const RegisterInfo& info = register_table()[regno];
  return g.substr(register_offset(regno) * 2, info.size * 2u);
}

class FakeTarget : public Target {
 public:
  std::vector<std::string> calls;
  StopEvent next_stop{StopKind::kSoftwareBreakpoint, kMain, 5, 0, BreakpointType::kWriteWatch, 0};
  std::vector<ResumeRequest> resumes;
  bool saw_interrupt = false;

  std::vector<ThreadInfo> threads() override { return {{kMain, "main"}, {kSecond, ""}}; }
  ThreadRef current_thread() override { return kMain; }
  StopEvent last_stop() override { return StopEvent{StopKind::kSignal, kMain, 5, 0, {}, 0}; }
  Expected<Registers> general_registers(ThreadRef t) override {
    if (t.tid == kSecond.tid) return fail("no registers for you");
    return sample_regs();
  }
  Expected<user_fpregs_struct> fp_registers(ThreadRef) override { return sample_fpregs(); }
  std::vector<uint8_t> xsave_area(ThreadRef) override { return {}; }
  std::vector<uint8_t> read_memory(ThreadRef, uint64_t addr, size_t len) override {
    // Readable: [0x1000, 0x1004) holding 01 02 03 04.
    std::vector<uint8_t> out;
    for (uint64_t a = addr; a < addr + len && a >= 0x1000 && a < 0x1004; ++a)
      out.push_back(static_cast<uint8_t>(a - 0x1000 + 1));
    return out;
  }
  Expected<std::vector<uint8_t>> auxv(int) override { return std::vector<uint8_t>{6, 0, 0, 0}; }
  Expected<std::string> exec_file(int) override { return std::string("/bin/true"); }
  Expected<std::string> file_contents(int, const std::string& path) override {
    if (path == "/maps") return std::string("0-1000 r-xp");
    return fail_errno("no such file", ENOENT);
  }
  Expected<StopEvent> resume(const ResumeRequest& req, const InterruptPoll& interrupted) override {
    resumes.push_back(req);
    if (interrupted()) {
      saw_interrupt = true;
      return StopEvent{StopKind::kSignal, kMain, 2, 0, {}, 0};
    }
    return next_stop;
  }
  Status insert_breakpoint(BreakpointType type, uint64_t addr, uint64_t kind) override {
    calls.push_back(fmt::format("Z{},{:x},{}", static_cast<int>(type), addr, kind));
    return {};
  }
  Status remove_breakpoint(BreakpointType type, uint64_t addr, uint64_t) override {
    calls.push_back(fmt::format("z{},{:x}", static_cast<int>(type), addr));
    return fail("no such breakpoint");
  }
  Expected<std::string> monitor_command(std::string_view cmd) override {
    if (cmd == "when") return std::string("event 7\n");
    return fail("unknown command");
  }
  void kill() override { calls.push_back("kill"); }
  void detach() override { calls.push_back("detach"); }
};

struct Session {
  ScopedFd gdb_side;
  FakeTarget target;
  Status result;
  std::string output;  // everything the server wrote
};

// Runs a server whose peer wrote `input` and then closed its writing half.
void run_session(Session& s, std::string_view input, bool close_peer_first = false) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  s.gdb_side.reset(fds[0]);
  REQUIRE(::write(fds[0], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  if (close_peer_first) {
    s.gdb_side.reset();
  } else {
    ::shutdown(fds[0], SHUT_WR);
  }
  {
    GdbServer server(Connection(ScopedFd(fds[1])), s.target);
    s.result = server.run();
  }  // closes the server's end, so the reads below see EOF
  if (!s.gdb_side.valid()) return;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(s.gdb_side.get(), buf, sizeof buf)) > 0)
    s.output.append(buf, static_cast<size_t>(n));
}

// The server's output as a list: "+" for an ack, the payload for a packet.
std::vector<std::string> events_of(const std::string& bytes) {
  PacketDecoder d;
  d.feed(std::string_view(bytes));
  std::vector<std::string> out;
  while (auto ev = d.next()) {
    if (ev->kind == PacketEvent::Kind::kAck)
      out.push_back("+");
    else if (ev->kind == PacketEvent::Kind::kNak)
      out.push_back("-");
    else if (ev->kind == PacketEvent::Kind::kPacket)
      out.push_back(ev->payload);
    else
      out.push_back("?bad");
  }
  return out;
}

}  // namespace

TEST_CASE("gdb registers: 'g' layout follows the XML numbering", "[gdb]") {
  auto table = register_table();
  REQUIRE(table.size() == static_cast<size_t>(kRegCount));
  CHECK(table[kRegRip].name == "rip");
  CHECK(table[kRegOrigRax].name == "orig_rax");
  CHECK(register_offset(kRegRip) == 128);
  CHECK(register_offset(kRegEflags) == 136);
  CHECK(register_offset(kRegSt0) == 164);
  CHECK(register_offset(kRegXmm0) == 276);
  CHECK(register_offset(kRegMxcsr) == 532);
  CHECK(register_offset(kRegOrigRax) == 536);
  CHECK(register_offset(kRegFsBase) == 544);
  CHECK(register_offset(kRegYmm0h) == 560);

  std::string g = encode_all_registers(sample_regs(), sample_fpregs(), {});
  REQUIRE(g.size() == 816 * 2);
  CHECK(g.substr(0, 16) == "8877665544332211");    // rax
  CHECK(g.substr(256, 16) == "0010400000000000");  // rip at byte 128
  CHECK(g.substr(272, 8) == "46020000");           // eflags, 4 bytes
  CHECK(reg_hex(g, 15) == "150f000000000000");     // r15
  CHECK(reg_hex(g, 18) == "33000000");             // cs
  CHECK(reg_hex(g, 32) == "7f030000");             // fctrl
  CHECK(reg_hex(g, 34) == "ffff0000");             // ftag: all empty
  CHECK(reg_hex(g, kRegXmm0) == "00010203000000000000000000000000");
  CHECK(reg_hex(g, kRegMxcsr) == "801f0000");
  CHECK(reg_hex(g, kRegOrigRax) == "ffffffffffffffff");
  CHECK(reg_hex(g, kRegFsBase) == "40a7d8f7ff7f0000");
  CHECK(reg_hex(g, kRegYmm0h) == std::string(32, 'x'));  // no XSAVE area
  CHECK(encode_register(kRegRip, sample_regs(), sample_fpregs(), {}) ==
        std::string("0010400000000000"));
  CHECK(!encode_register(kRegCount, sample_regs(), sample_fpregs(), {}).has_value());
}

TEST_CASE("gdb registers: ymm upper halves from XSAVE, x87 tags rebuilt", "[gdb]") {
  std::vector<uint8_t> xsave(832, 0);
  CHECK(*encode_register(kRegYmm0h, sample_regs(), sample_fpregs(), xsave) ==
        std::string(32, '0'));  // YMM state bit clear: initial state
  xsave[512] = 0x4;             // XSTATE_BV: YMM in use
  xsave[576] = 0xab;            // ymm0h byte 0
  xsave[576 + 16 * 15 + 15] = 0xcd;
  CHECK(encode_register(kRegYmm0h, sample_regs(), sample_fpregs(), xsave)->substr(0, 4) == "ab00");
  CHECK(encode_register(kRegYmm0h + 15, sample_regs(), sample_fpregs(), xsave)->substr(30) == "cd");
  // One value pushed (TOP = 7): 1.0 in st0, physical register 7 valid.
  user_fpregs_struct fp = sample_fpregs();
  fp.swd = 7 << 11;
  fp.ftw = 0x80;
  uint8_t one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};
  std::memcpy(fp.st_space, one, sizeof one);
  CHECK(*encode_register(34, sample_regs(), fp, {}) == "ff3f0000");
  CHECK(*encode_register(kRegSt0, sample_regs(), fp, {}) == "0000000000000080ff3f");
}

TEST_CASE("gdb target.xml: gdb's feature names, numbered like the table", "[gdb]") {
  const std::string& xml = target_xml();
  CHECK(xml.find("<architecture>i386:x86-64</architecture>") != std::string::npos);
  for (std::string_view f :
       {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.linux",
        "org.gnu.gdb.i386.segments", "org.gnu.gdb.i386.avx"})
    CHECK(xml.find(fmt::format("<feature name=\"{}\">", f)) != std::string::npos);
  CHECK(xml.find("<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\" regnum=\"16\"") !=
        std::string::npos);
  CHECK(xml.find("<reg name=\"orig_rax\" bitsize=\"64\" type=\"int\" regnum=\"57\"") !=
        std::string::npos);
  CHECK(xml.find("<reg name=\"ymm15h\" bitsize=\"128\" type=\"uint128\" regnum=\"75\"") !=
        std::string::npos);
  // Document order is register order too, so either reading numbers alike.
  size_t last = 0;
  for (const RegisterInfo& r : register_table()) {
    size_t at = xml.find(fmt::format("<reg name=\"{}\"", r.name));
    REQUIRE(at != std::string::npos);
    CHECK(at > last);
    last = at;
  }
}

TEST_CASE("gdb replies: stop, exit, thread list, console", "[gdb]") {
  StopReplyOptions mp;
  CHECK(reply_stop({StopKind::kSignal, {1, 2}, 5, 0, {}, 0}, mp) == "T05thread:p1.2;");
  CHECK(reply_stop({StopKind::kSoftwareBreakpoint, {1, 2}, 0, 0, {}, 0}, mp) ==
        "T05swbreak:;thread:p1.2;");
  CHECK(reply_stop({StopKind::kHardwareBreakpoint, {1, 2}, 0, 0, {}, 0}, mp) ==
        "T05hwbreak:;thread:p1.2;");
  CHECK(reply_stop({StopKind::kWatchpoint, {1, 2}, 0, 0x7ffe10, BreakpointType::kWriteWatch, 0},
                   mp) == "T05watch:7ffe10;thread:p1.2;");
  CHECK(reply_stop({StopKind::kWatchpoint, {1, 2}, 0, 0x10, BreakpointType::kReadWatch, 0}, mp) ==
        "T05rwatch:10;thread:p1.2;");
  CHECK(reply_stop({StopKind::kWatchpoint, {1, 2}, 0, 0x10, BreakpointType::kAccessWatch, 0}, mp) ==
        "T05awatch:10;thread:p1.2;");
  CHECK(reply_stop({StopKind::kHistoryStart, {1, 2}, 0, 0, {}, 0}, mp) ==
        "T05replaylog:begin;thread:p1.2;");
  CHECK(reply_stop({StopKind::kExited, {0x1f, 0x1f}, 0, 0, {}, 3}, mp) == "W03;process:1f");
  CHECK(reply_stop({StopKind::kTerminated, {0x1f, 0x1f}, 9, 0, {}, 0}, mp) == "X09;process:1f");
  StopReplyOptions plain{false, {{1, 2}, {1, 3}}};
  CHECK(reply_stop({StopKind::kSignal, {1, 2}, 0x0b, 0, {}, 0}, plain) ==
        "T0bthread:2;threads:2,3;");
  std::vector<ThreadRef> threads = {{1, 2}, {1, 0x1a}};
  CHECK(reply_thread_list(threads, true) == "mp1.2,p1.1a");
  CHECK(reply_thread_list_end() == "l");
  CHECK(reply_console_output("hi\n") == "O68690a");
  CHECK(reply_error(1) == "E01");
  CHECK(reply_xfer_slice("abcdef", 0, 4) == "mabcd");
  CHECK(reply_xfer_slice("abcdef", 4, 4) == "lef");
  CHECK(reply_xfer_slice("abcdef", 6, 4) == "l");
}

TEST_CASE("gdb server: a session in ack mode", "[gdb]") {
  Session s;
  run_session(s,
              "+$qSupported:multiprocess+;swbreak+;xmlRegisters=i386#a6+"
              "$?#3f+$g#67+$m1000,4#8e+$Z0,401000,1#38+$vCont;c#a8+"
              "$M1000,1:00#05+$qFoo#95+$qC#b5$qC#b4+$p10#d1+");
  REQUIRE(s.result.has_value());
  auto ev = events_of(s.output);
  REQUIRE(ev.size() == 21);
  CHECK(s.output.starts_with("+$PacketSize=4000;QStartNoAckMode+;"));
  CHECK(ev[1].find(";multiprocess+;") != std::string::npos);
  CHECK(ev[1].find(";ReverseContinue+;ReverseStep+;") != std::string::npos);
  CHECK(ev[3] == "T05thread:p64.65;");
  CHECK(ev[5].size() == 816 * 2);
  CHECK(ev[5].substr(256, 16) == "0010400000000000");
  CHECK(ev[7] == "01020304");
  CHECK(ev[9] == "OK");
  CHECK(s.target.calls == std::vector<std::string>{"Z0,401000,1"});
  CHECK(ev[11] == "T05swbreak:;thread:p64.65;");
  REQUIRE(s.target.resumes.size() == 1);
  CHECK(s.target.resumes[0].action == ResumeAction::kContinue);
  CHECK(s.target.resumes[0].direction == Direction::kForward);
  CHECK(ev[13] == "E01");
  CHECK(ev[15] == "");
  CHECK(s.output.find("+$#00") != std::string::npos);
  CHECK(ev[16] == "-");  // damaged qC: asked again
  CHECK(ev[18] == "QCp64.65");
  CHECK(ev[20] == "0010400000000000");
  for (size_t i : {0, 2, 4, 6, 8, 10, 12, 14, 17, 19}) CHECK(ev[i] == "+");
  CHECK(s.output.ends_with("+$0010400000000000#05"));
}

TEST_CASE("gdb server: a stop's thread becomes the one g asks about", "[gdb]") {
  // gdb does not send Hg again after a stop in another thread.
  Session s;
  s.target.next_stop.thread = kSecond;
  run_session(s, "$QStartNoAckMode#b0+$Hgp64.65#22$vCont;c#a8$g#67");
  REQUIRE(s.result.has_value());
  CHECK(s.output == "+$OK#9a$OK#9a$T05swbreak:;thread:66;#76$E01#a6");
}

TEST_CASE("gdb server: no-ack mode starts after the OK is acknowledged", "[gdb]") {
  Session s;
  run_session(s, "$QStartNoAckMode#b0+$qC#b4$qC#00");
  REQUIRE(s.result.has_value());
  CHECK(s.output == "+$OK#9a$QC65#ff$QC65#ff");
}

TEST_CASE("gdb server: Ctrl-C while the target runs stops it with SIGINT", "[gdb]") {
  Session s;
  run_session(s, "$QStartNoAckMode#b0+$vCont;c#a8\x03");
  REQUIRE(s.result.has_value());
  CHECK(s.target.saw_interrupt);
  CHECK(events_of(s.output).back() == "T02thread:65;");
}

TEST_CASE("gdb server: reverse execution, stepping and the stop reasons", "[gdb]") {
  Session s;
  s.target.next_stop = StopEvent{StopKind::kHistoryStart, kMain, 5, 0, {}, 0};
  std::string in = encode_packet("qSupported:multiprocess+") + "+" + encode_packet("bc") + "+" +
                   encode_packet("vCont;s:p64.66;c") + "+" + encode_packet("Hcp64.66") + "+" +
                   encode_packet("bs") + "+" + encode_packet("vCont?") + "+" +
                   encode_packet("vCont;t") + "+";
  run_session(s, in);
  REQUIRE(s.result.has_value());
  auto ev = events_of(s.output);
  REQUIRE(ev.size() == 14);
  CHECK(ev[3] == "T05replaylog:begin;thread:p64.65;");
  REQUIRE(s.target.resumes.size() == 3);
  CHECK(s.target.resumes[0].direction == Direction::kReverse);
  CHECK(s.target.resumes[0].action == ResumeAction::kContinue);
  CHECK(s.target.resumes[1].action == ResumeAction::kStep);
  CHECK(s.target.resumes[1].direction == Direction::kForward);
  CHECK(s.target.resumes[1].thread == kSecond);
  CHECK(s.target.resumes[2].action == ResumeAction::kStep);
  CHECK(s.target.resumes[2].direction == Direction::kReverse);
  CHECK(s.target.resumes[2].thread == kSecond);  // bs steps the Hc thread
  CHECK(ev[11] == "vCont;c;C;s;S");
  CHECK(ev[13] == "E01");
}

TEST_CASE("gdb server: queries answered one by one", "[gdb]") {
  Session s;
  std::vector<std::string> packets = {"qSupported:multiprocess+",
                                      "qXfer:features:read:target.xml:0,20",
                                      "qXfer:auxv:read::0,100",
                                      "qXfer:exec-file:read:64:0,100",
                                      "qXfer:threads:read::0,1000",
                                      "qXfer:features:read:x.xml:0,1",
                                      "qfThreadInfo",
                                      "qsThreadInfo",
                                      "qAttached",
                                      "Hgp64.66",
                                      "g",
                                      "Hgp64.99",
                                      "Tp64.66",
                                      "Tp64.99",
                                      "qThreadExtraInfo,p64.65",
                                      "qRcmd,7768656e",
                                      "qRcmd,78",
                                      "z0,401000,1",
                                      "QNonStop:1",
                                      "QNonStop:0",
                                      "qSymbol::",
                                      "vMustReplyEmpty",
                                      "m2000,4",
                                      "m1002,8",
                                      "vFile:setfs:0",
                                      "D"};
  std::string in;
  for (const auto& p : packets) in += encode_packet(p) + (p.starts_with("qRcmd") ? "++" : "+");
  in += encode_packet("qC") + "+";  // after D: never read
  run_session(s, in);
  REQUIRE(s.result.has_value());
  std::vector<std::string> replies;
  for (const auto& e : events_of(s.output))
    if (e != "+") replies.push_back(e);
  REQUIRE(replies.size() == packets.size() + 2);  // two monitor O-packets
  size_t i = 1;
  CHECK(replies[i++] == "m" + target_xml().substr(0, 32));
  CHECK(replies[i++] == std::string("l\x06\0\0\0", 5));
  CHECK(replies[i++] == "l/bin/true");
  CHECK(replies[i++] ==
        "l<?xml version=\"1.0\"?>\n<threads>\n  <thread id=\"p64.65\" name=\"main\"/>\n"
        "  <thread id=\"p64.66\"/>\n</threads>\n");
  CHECK(replies[i++] == "E01");
  CHECK(replies[i++] == "mp64.65,p64.66");
  CHECK(replies[i++] == "l");
  CHECK(replies[i++] == "1");
  CHECK(replies[i++] == "OK");
  CHECK(replies[i++] == "E01");  // g on a thread whose registers fail
  CHECK(replies[i++] == "E01");  // Hg of an unknown thread
  CHECK(replies[i++] == "OK");
  CHECK(replies[i++] == "E01");
  CHECK(replies[i++] == hex_encode(std::string_view("main")));
  CHECK(replies[i++] == "O" + hex_encode(std::string_view("event 7\n")));
  CHECK(replies[i++] == "OK");
  CHECK(replies[i++] == "O" + hex_encode(std::string_view("unknown command\n")));
  CHECK(replies[i++] == "E01");
  CHECK(replies[i++] == "E01");  // z0 failed in the target
  CHECK(replies[i++] == "E01");  // non-stop refused
  CHECK(replies[i++] == "OK");
  CHECK(replies[i++] == "OK");
  CHECK(replies[i++] == "");
  CHECK(replies[i++] == "E01");   // nothing readable
  CHECK(replies[i++] == "0304");  // partial read
  CHECK(replies[i++] == "F0");    // vFile:setfs
  CHECK(replies[i++] == "OK");    // D
  CHECK(s.target.calls == std::vector<std::string>{"z0,401000", "detach"});
}

TEST_CASE("gdb server: host I/O reads files through the target", "[gdb]") {
  Session s;
  // open /maps read-only, pread 4 bytes at 2, past the end, close, close again,
  // open for writing, open a missing file, an unknown operation.
  std::vector<std::string> packets = {
      "vFile:open:2f6d617073,0,0", "vFile:pread:3,4,2",         "vFile:pread:3,10,100",
      "vFile:close:3",             "vFile:close:3",             "vFile:open:2f6d617073,1,0",
      "vFile:open:2f6e6f6e65,0,0", "vFile:unlink:2f6d617073"};
  std::string in = "$QStartNoAckMode#b0+";
  for (const auto& p : packets) in += encode_packet(p);
  run_session(s, in);
  REQUIRE(s.result.has_value());
  auto ev = events_of(s.output);
  std::vector<std::string> replies;
  for (const auto& e : ev)
    if (e != "+") replies.push_back(e);
  REQUIRE(replies.size() == packets.size() + 1);
  CHECK(replies[1] == "F3");
  CHECK(replies[2] == "F4;1000");
  CHECK(replies[3] == "F0;");
  CHECK(replies[4] == "F0");
  CHECK(replies[5] == "F-1,9");
  CHECK(replies[6] == "F-1,d");
  CHECK(replies[7] == "F-1,2");
  CHECK(replies[8] == "");
}

TEST_CASE("gdb server: kill ends the session; 'k' gets no reply", "[gdb]") {
  Session s;
  run_session(s, "$k#6b$qC#b4+");
  REQUIRE(s.result.has_value());
  CHECK(s.output == "+");
  CHECK(s.target.calls == std::vector<std::string>{"kill"});
  Session v;
  run_session(v, "$vKill;64#" + fmt::format("{:02x}", packet_checksum("vKill;64")) + "+");
  CHECK(events_of(v.output) == std::vector<std::string>{"+", "OK"});
}

TEST_CASE("gdb server: disconnects end the loop cleanly", "[gdb]") {
  Session mid;  // half a packet, then EOF
  run_session(mid, "$qC#b4+$m10");
  REQUIRE(mid.result.has_value());
  CHECK(mid.output == "+$QC65#ff");

  Session waiting;  // EOF while waiting for the ack of our reply
  run_session(waiting, "$qC#b4");
  REQUIRE(waiting.result.has_value());
  CHECK(waiting.output == "+$QC65#ff");

  Session gone;  // peer closed entirely: writes fail with EPIPE, not SIGPIPE
  run_session(gone, "$qC#b4", /*close_peer_first=*/true);
  CHECK(gone.result.has_value());

  Session empty;
  run_session(empty, "");
  CHECK(empty.result.has_value());
  CHECK(empty.output.empty());
}

TEST_CASE("gdb connection: loopback listener serves one client, refuses others", "[gdb]") {
  auto listener = GdbListener::listen_loopback(0);
  REQUIRE(listener.has_value());
  uint16_t port = listener->port();
  REQUIRE(port != 0);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  REQUIRE(::getsockname(listener->fd(), reinterpret_cast<sockaddr*>(&bound), &len) == 0);
  CHECK(bound.sin_addr.s_addr == htonl(INADDR_LOOPBACK));

  auto connect_client = [port] {
    ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  };
  ScopedFd first = connect_client();
  auto conn = std::move(*listener).accept_client();
  REQUIRE(conn.has_value());
  ScopedFd second = connect_client();
  REQUIRE(::write(first.get(), "$qC#b4", 6) == 6);
  auto ev = conn->read_event();
  REQUIRE(ev.has_value());
  CHECK(ev->kind == ConnectionEvent::Kind::kPacket);
  CHECK(ev->payload == "qC");
  CHECK(!conn->poll_interrupt());
  char c;
  CHECK(::read(second.get(), &c, 1) == 0);  // refused: closed at once
  // Our ack of qC went out; gdb's ack of our reply is already waiting.
  REQUIRE(::write(first.get(), "+", 1) == 1);
  REQUIRE(conn->send_packet("OK").has_value());
  char buf[16] = {};
  CHECK(::read(first.get(), buf, sizeof buf) == 7);
  CHECK(std::string(buf) == "+$OK#9a");
  REQUIRE(::write(first.get(), "\x03", 1) == 1);
  bool interrupted = false;
  for (int i = 0; i < 500 && !interrupted; ++i) {
    interrupted = conn->poll_interrupt();
    if (!interrupted) ::usleep(1000);
  }
  CHECK(interrupted);
  first.reset();
  auto end = conn->read_event();
  REQUIRE(end.has_value());
  CHECK(end->kind == ConnectionEvent::Kind::kDisconnected);
}
