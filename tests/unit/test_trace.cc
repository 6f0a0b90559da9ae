// The trace directory layer: record streams, the header, TraceWriter and
// TraceReader, and trace naming. Damage of every kind must come back as an
// error with the right identity, never as a crash or a silently short trace.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "trace/fs_util.h"
#include "trace/header.h"
#include "trace/stream.h"
#include "trace/trace_dir.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

using namespace rrl;
using namespace rrl::trace;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/rrl-test-trace-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

uint64_t mix(uint64_t x) {  // splitmix64: cheap, deterministic, incompressible-ish bytes
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<uint8_t> pattern(uint64_t seed, size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>(mix(seed * 1000003 + i / 4) >> (i % 4 * 8));
  return v;
}

// Event i: a syscall with a memory write of a few hundred bytes.
Event make_event(uint64_t i) {
  SyscallEvent s;
  s.syscallno = static_cast<int64_t>(i % 300);
  for (size_t a = 0; a < s.args.size(); ++a) s.args[a] = mix(i + a);
  s.regs.r.rip = 0x400000 + i;
  s.regs.r.rax = mix(i);
  s.writes.push_back({0x7ff000000000 + i * 64, pattern(i, 200 + i % 400)});
  return Event{i, static_cast<int32_t>(1000 + i % 3), s};
}

void check_event(const Event& ev, uint64_t i) {
  Event want = make_event(i);
  REQUIRE(ev.number == i);
  CHECK(ev.tid == want.tid);
  REQUIRE(std::holds_alternative<SyscallEvent>(ev.data));
  const auto& got = std::get<SyscallEvent>(ev.data);
  const auto& exp = std::get<SyscallEvent>(want.data);
  CHECK(got.syscallno == exp.syscallno);
  CHECK(got.args == exp.args);
  CHECK(got.regs.r.rip == exp.regs.r.rip);
  CHECK(got.regs.r.rax == exp.regs.r.rax);
  REQUIRE(got.writes.size() == 1);
  CHECK(got.writes[0].addr == exp.writes[0].addr);
  CHECK(got.writes[0].data == exp.writes[0].data);
}

Header sample_header() {
  Header h;
  h.program = "/usr/bin/example";
  h.argv = {"example", "--flag", ""};
  h.envp = {"A=1", "PATH=/usr/bin:/bin"};
  h.cwd = "/home/someone";
  h.start_time_ns = 1700000000123456789;
  h.end_time_ns = 1700000001123456789;
  h.event_count = 0;
  h.exit_status = 128 + SIGSEGV;
  h.kernel_release = "6.1.0-test";
  h.cpu_vendor = "AuthenticAMD";
  h.cpu_model = "AMD EPYC 7B13";
  h.cpuid = {{0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65}, {7, 0, 1, 2, 3, 4}};
  h.syscall_buffer = true;
  h.chaos = true;
  h.chaos_seed = 123456789;
  h.progress_source = 1;
  return h;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::span<const uint8_t> data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Writes a complete trace of `n` events, flushing every `flush_every`.
void write_trace(const std::string& dir, uint64_t n, uint64_t flush_every = 0) {
  auto w = TraceWriter::create(dir, sample_header());
  REQUIRE(w);
  for (uint64_t i = 0; i < n; ++i) {
    REQUIRE(w->append(make_event(i)));
    if (flush_every && (i + 1) % flush_every == 0) REQUIRE(w->flush());
  }
  Header final = sample_header();
  final.state = Header::State::kComplete;
  REQUIRE(w->finish(final));
}

// Reads until nullopt or an error; returns the error (nullopt on a clean end)
// and checks every event it got on the way.
std::optional<Error> read_all(TraceReader& r, uint64_t* count) {
  *count = 0;
  for (;;) {
    auto ev = r.next();
    if (!ev) return ev.error();
    if (!*ev) return std::nullopt;
    check_event(**ev, *count);
    ++*count;
  }
}

size_t count_frames(const std::vector<uint8_t>& data) {
  size_t frames = 0;
  for (size_t pos = 0; pos < data.size(); ++frames) {
    size_t n = ZSTD_findFrameCompressedSize(data.data() + pos, data.size() - pos);
    REQUIRE_FALSE(ZSTD_isError(n));
    pos += n;
  }
  return frames;
}

std::vector<uint8_t> zstd_frame(std::span<const uint8_t> content) {
  std::vector<uint8_t> out(ZSTD_compressBound(content.size()));
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(c, out.data(), out.size(), content.data(), content.size());
  ZSTD_freeCCtx(c);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

}  // namespace

// ---- streams ----

TEST_CASE("stream round trip with empty and large records", "[trace][stream]") {
  TempDir tmp;
  std::string path = tmp / "s";
  auto w = StreamWriter::create(path);
  REQUIRE(w);
  std::vector<std::vector<uint8_t>> records = {{}, {1}, pattern(1, 3 << 20), pattern(2, 100)};
  for (const auto& r : records) REQUIRE(w->append(r));
  REQUIRE(w->close());
  CHECK(w->record_count() == records.size());
  CHECK_FALSE(w->append(records[1]));  // closed

  auto r = StreamReader::open(path);
  REQUIRE(r);
  for (const auto& want : records) {
    auto got = r->next();
    REQUIRE(got);
    REQUIRE(*got);
    CHECK(**got == want);
  }
  for (int again = 0; again < 2; ++again) {
    auto end = r->next();
    REQUIRE(end);
    CHECK_FALSE(*end);
  }
  CHECK(StreamWriter::create(path).error().sys_errno == EEXIST);
  CHECK(StreamReader::open(tmp / "missing").error().sys_errno == ENOENT);
}

TEST_CASE("stream framing errors are corrupt, a missing end is truncated", "[trace][stream]") {
  TempDir tmp;
  std::string path = tmp / "s";
  auto expect = [&](std::vector<uint8_t> file, StreamFailure want) {
    write_file(path, file);
    auto r = StreamReader::open(path);
    REQUIRE(r);
    std::optional<Error> err;
    for (int i = 0; i < 10 && !err; ++i) {
      auto rec = r->next();
      if (!rec)
        err = rec.error();
      else
        REQUIRE(*rec);  // none of these files may end cleanly
    }
    REQUIRE(err);
    CHECK(r->failure() == want);
    CHECK(is_truncated(*err) == (want == StreamFailure::kTruncated));
    CHECK(is_corrupt(*err) == (want == StreamFailure::kCorrupt));
  };
  // u32 length 1, payload 'x', end marker claiming 5 records.
  std::vector<uint8_t> content = {1, 0, 0, 0, 'x', 0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, 0, 0, 0, 0};
  SECTION("record count mismatch") {
    expect(zstd_frame(content), StreamFailure::kCorrupt);
  }
  SECTION("record longer than its frame") {
    content.resize(3);
    expect(zstd_frame(content), StreamFailure::kCorrupt);
  }
  SECTION("data after the end marker") {
    content[9] = 1;
    auto file = zstd_frame(content);
    auto again = file;
    file.insert(file.end(), again.begin(), again.end());
    expect(file, StreamFailure::kCorrupt);
  }
  SECTION("not zstd at all") {
    expect(pattern(3, 1000), StreamFailure::kCorrupt);
  }
  SECTION("empty file") {
    expect({}, StreamFailure::kTruncated);
  }
  SECTION("records but no end marker") {
    content.resize(5);
    expect(zstd_frame(content), StreamFailure::kTruncated);
  }
}

TEST_CASE("write errors carry their errno", "[trace][stream]") {
  int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> data(100, 1);
  auto st = write_all(fd, data, "/dev/full");
  ::close(fd);
  REQUIRE_FALSE(st);
  CHECK(st.error().sys_errno == ENOSPC);
  CHECK(contains(st.error().describe(), "/dev/full"));
}

// ---- header ----

TEST_CASE("header round trip", "[trace][header]") {
  TempDir tmp;
  Header h = sample_header();
  h.state = Header::State::kFailed;
  h.failure_reason = "disk full";
  h.event_count = 42;
  REQUIRE(write_header(tmp.path, h));
  auto got = read_header(tmp.path);
  REQUIRE(got);
  CHECK(*got == h);
  CHECK(got->version == kTraceVersion);
  CHECK_FALSE(std::filesystem::exists(tmp / "header.tmp"));
  CHECK(state_name(Header::State::kRecording) == "recording");
  CHECK(state_name(Header::State::kComplete) == "complete");
  CHECK(state_name(Header::State::kInterrupted) == "interrupted");
  CHECK(state_name(Header::State::kFailed) == "failed");
}

TEST_CASE("headers of other versions are refused", "[trace][header]") {
  TempDir tmp;
  REQUIRE(write_header(tmp.path, sample_header()));
  auto bytes = read_file(tmp / "header");
  for (uint32_t version : {0u, kTraceVersion - 1, kTraceVersion + 1, 1000u}) {
    std::memcpy(bytes.data() + 8, &version, 4);
    write_file(tmp / "header", bytes);
    auto h = read_header(tmp.path);
    REQUIRE_FALSE(h);
    INFO(h.error().message);
    CHECK(contains(h.error().message, "version " + std::to_string(version) + " is not supported"));
    CHECK(contains(h.error().message, "reads version " + std::to_string(kTraceVersion)));
    auto r = TraceReader::open(tmp.path);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "version " + std::to_string(version)));
  }
}

TEST_CASE("things that are not traces", "[trace][header]") {
  TempDir tmp;
  auto not_a_trace = [](const std::string& dir) {
    auto h = read_header(dir);
    REQUIRE_FALSE(h);
    INFO(h.error().describe());
    CHECK(contains(h.error().message, "not an rr-like trace"));
  };
  not_a_trace(tmp / "missing");
  not_a_trace(tmp.path);  // no header file
  write_file(tmp / "header", pattern(7, 300));
  not_a_trace(tmp.path);
  std::string text = "RRLIKE but not really";
  write_file(tmp / "header", std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  not_a_trace(tmp.path);
}

TEST_CASE("truncated or damaged headers are refused", "[trace][header]") {
  TempDir tmp;
  REQUIRE(write_header(tmp.path, sample_header()));
  const auto good = read_file(tmp / "header");
  for (size_t len : {size_t{8}, size_t{11}, size_t{12}, size_t{19}, size_t{40}, good.size() - 1}) {
    INFO("cut at " << len);
    write_file(tmp / "header", std::span(good).first(len));
    auto h = read_header(tmp.path);
    REQUIRE_FALSE(h);
    CHECK(contains(h.error().message, "truncated"));
  }
  for (size_t pos : {size_t{20}, size_t{30}, good.size() / 2, good.size() - 1}) {
    INFO("flip at " << pos);
    auto bad = good;
    bad[pos] ^= 0x10;
    write_file(tmp / "header", bad);
    auto h = read_header(tmp.path);
    REQUIRE_FALSE(h);
    CHECK(contains(h.error().message, "damaged"));
  }
}

// ---- writer and reader ----

TEST_CASE("trace round trip across many frames", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "deep/er/trace";
  const uint64_t n = 5000;
  write_trace(dir, n);

  auto frames = count_frames(read_file(dir + "/events"));
  CHECK(frames >= 3);  // ~2 MB of events: the 1 MiB auto-flush must have ended frames
  auto r = TraceReader::open(dir);
  REQUIRE(r);
  CHECK_FALSE(r->incomplete());
  CHECK(r->header().state == Header::State::kComplete);
  CHECK(r->header().event_count == n);
  CHECK(r->header().program == sample_header().program);
  CHECK(r->header().cpuid == sample_header().cpuid);
  uint64_t count = 0;
  auto err = read_all(*r, &count);
  CHECK_FALSE(err);
  CHECK(count == n);
  auto again = r->next();
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("trace directories are private and fresh", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "parent/trace";
  auto w = TraceWriter::create(dir, sample_header());
  REQUIRE(w);
  auto mode = [](const std::string& p) {
    struct stat st;
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  CHECK(mode(dir) == 0700);
  CHECK(mode(tmp / "parent") == 0700);
  CHECK(mode(dir + "/files") == 0700);
  // A SIGKILLed recorder must leave a recognisable, incomplete trace: the
  // header says so from the start.
  auto h = read_header(dir);
  REQUIRE(h);
  CHECK(h->state == Header::State::kRecording);

  auto again = TraceWriter::create(dir, sample_header());
  REQUIRE_FALSE(again);
  CHECK(contains(again.error().message, "already exists and is not empty"));
  REQUIRE(::mkdir((tmp / "empty").c_str(), 0755) == 0);
  CHECK(TraceWriter::create(tmp / "empty", sample_header()));
}

TEST_CASE("a cut events stream is incomplete or damaged, never short", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "t";
  const uint64_t n = 3000;
  write_trace(dir, n, /*flush_every=*/100);
  const auto events = read_file(dir + "/events");
  for (bool complete : {true, false}) {
    Header h = *read_header(dir);
    h.state = complete ? Header::State::kComplete : Header::State::kInterrupted;
    h.failure_reason = complete ? "" : "stopped by Ctrl-C";
    REQUIRE(write_header(dir, h));
    for (size_t len : {size_t{0}, size_t{1}, size_t{20}, events.size() / 3, events.size() / 2,
                       events.size() - 30, events.size() - 1}) {
      INFO("complete header: " << complete << ", events cut at " << len);
      write_file(dir + "/events", std::span(events).first(len));
      auto r = TraceReader::open(dir);
      REQUIRE(r);
      uint64_t count = 0;
      auto err = read_all(*r, &count);
      REQUIRE(err);
      INFO(err->message);
      CHECK(count <= n);  // a cut in the last frame loses only the end marker
      CHECK(r->failure() == StreamFailure::kTruncated);
      CHECK(r->incomplete() == !complete);
      if (complete) {
        CHECK(contains(err->message, "is damaged"));
        CHECK(is_truncated(*err));
      } else {
        CHECK(contains(err->message, "is incomplete: the recording was interrupted"));
        CHECK(contains(err->message, "stopped by Ctrl-C"));
      }
    }
  }
}

TEST_CASE("a flipped byte in the events stream is corrupt", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "t";
  write_trace(dir, 2000, /*flush_every=*/500);
  const auto events = read_file(dir + "/events");
  size_t first = ZSTD_findFrameCompressedSize(events.data(), events.size());
  REQUIRE_FALSE(ZSTD_isError(first));
  for (size_t pos :
       {size_t{2}, size_t{30}, first / 2, first - 2, first + first / 2, events.size() - 2}) {
    INFO("flip at " << pos << " of " << events.size());
    auto bad = events;
    bad[pos] ^= 0x01;
    write_file(dir + "/events", bad);
    auto r = TraceReader::open(dir);
    REQUIRE(r);
    uint64_t count = 0;
    auto err = read_all(*r, &count);
    REQUIRE(err);
    INFO(err->message);
    CHECK(r->failure() == StreamFailure::kCorrupt);
    CHECK(contains(err->message, "is damaged"));
    // Records come only from verified frames: nothing from the damaged one.
    CHECK(count % 500 == 0);
    if (pos < first) CHECK(count == 0);
  }
}

TEST_CASE("an abandoned trace keeps its flushed events and says it is incomplete", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "t";
  {
    auto w = TraceWriter::create(dir, sample_header());
    REQUIRE(w);
    for (uint64_t i = 0; i < 150; ++i) {
      REQUIRE(w->append(make_event(i)));
      if (i == 99) REQUIRE(w->flush());
    }
    Header h = sample_header();
    h.state = Header::State::kComplete;
    CHECK_FALSE(w->abandon(h));  // a complete state makes no sense here
    h.state = Header::State::kFailed;
    h.failure_reason = "tracee vanished";
    REQUIRE(w->abandon(h));
    CHECK(w->event_count() == 150);
    CHECK_FALSE(w->append(make_event(150)));
  }
  auto r = TraceReader::open(dir);
  REQUIRE(r);
  CHECK(r->incomplete());
  CHECK(r->header().state == Header::State::kFailed);
  auto copy = tmp / "no-events";  // killed before the events stream existed
  REQUIRE(::mkdir(copy.c_str(), 0700) == 0);
  std::filesystem::copy_file(dir + "/header", copy + "/header");
  auto no_events = TraceReader::open(copy);
  REQUIRE_FALSE(no_events);
  CHECK(contains(no_events.error().message, "is incomplete"));
  uint64_t count = 0;
  auto err = read_all(*r, &count);
  REQUIRE(err);
  CHECK(count == 150);  // abandon() flushes what it can
  CHECK(contains(err->message, "is incomplete: the recording failed (tracee vanished)"));
}

TEST_CASE("a SIGKILLed writer leaves its flushed events readable", "[trace]") {
  TempDir tmp;
  std::string dir = tmp / "t";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto w = TraceWriter::create(dir, sample_header());
    if (!w) ::_exit(1);
    for (uint64_t i = 0; i < 300; ++i) {
      if (!w->append(make_event(i))) ::_exit(2);
      if (i == 199 && !w->flush()) ::_exit(3);
    }
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  auto r = TraceReader::open(dir);
  REQUIRE(r);
  CHECK(r->header().state == Header::State::kRecording);
  uint64_t count = 0;
  auto err = read_all(*r, &count);
  REQUIRE(err);
  CHECK(count == 200);
  CHECK(contains(err->message, "is incomplete: the recording never finished"));
}

TEST_CASE("saved files are deduplicated and identical", "[trace]") {
  TempDir tmp;
  auto w = TraceWriter::create(tmp / "t", sample_header());
  REQUIRE(w);
  std::string a = tmp / "lib a.so";
  write_file(a, pattern(11, 300000));
  auto first = w->save_file(a);
  REQUIRE(first);
  CHECK(*first == "00000-lib_a.so");
  // Another path to the same unchanged file (as the recorder's /proc paths are).
  int fd = ::open(a.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  auto second = w->save_file("/proc/self/fd/" + std::to_string(fd), "/somewhere/lib a.so");
  ::close(fd);
  REQUIRE(second);
  CHECK(*second == *first);
  CHECK(read_file(tmp / "t/files/" + *first) == read_file(a));
  auto inode = [](const std::string& p) {
    struct stat st;
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return std::pair(st.st_dev, st.st_ino);
  };
  CHECK(inode(tmp / "t/files/" + *first) != inode(a));  // not a system file: copied

  write_file(a, pattern(12, 1000));  // rewritten in place: new contents, new copy
  auto third = w->save_file(a);
  REQUIRE(third);
  CHECK(*third == "00001-lib_a.so");
  CHECK(read_file(tmp / "t/files/" + *third) == pattern(12, 1000));
  CHECK(read_file(tmp / "t/files/" + *first) == pattern(11, 300000));

  CHECK(w->save_file(tmp / "missing").error().sys_errno == ENOENT);
  CHECK(contains(w->save_file("/dev/zero").error().message, "not a regular file"));

  // A system library is copied, never hard-linked (a link would change the
  // link count the recorded program sees), and an executable stays executable.
  std::string libc;
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"}) {
    if (::access(p, R_OK) == 0) libc = p;
  }
  REQUIRE(!libc.empty());
  struct stat before;
  REQUIRE(::stat(libc.c_str(), &before) == 0);
  auto saved = w->save_file(libc, libc);
  REQUIRE(saved);
  CHECK(read_file(tmp / "t/files/" + *saved) == read_file(libc));
  CHECK(inode(tmp / "t/files/" + *saved) != inode(libc));
  struct stat after, copy;
  REQUIRE(::stat(libc.c_str(), &after) == 0);
  CHECK(after.st_nlink == before.st_nlink);
  REQUIRE(::stat((tmp / "t/files/" + *saved).c_str(), &copy) == 0);
  CHECK((copy.st_mode & 0100) != 0);
  Header final = sample_header();
  final.state = Header::State::kComplete;
  REQUIRE(w->finish(final));
  auto r = TraceReader::open(tmp / "t");
  REQUIRE(r);
  CHECK(r->file_path(*first) == tmp / "t/files/" + *first);
}

// Runs `body` in a child whose files may not grow past `limit` bytes; the
// child's exit code is the number of the first failed expectation.
int with_file_size_limit(rlim_t limit, int (*body)(const std::string&), const std::string& dir) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // as the recorder does: EFBIG instead of death
    rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(100);
    ::_exit(body(dir));
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 101;
  return WEXITSTATUS(status);
}

int fill_events_until_error(const std::string& dir) {
  auto w = TraceWriter::create(dir, sample_header());
  if (!w) return 1;
  Status st;
  for (uint64_t i = 0; i < 100000 && st; ++i) {
    st = w->append(make_event(i));
    if (st && i % 50 == 0) st = w->flush();
  }
  if (st) return 2;  // never failed
  if (st.error().sys_errno != EFBIG) return 3;
  auto later = w->append(make_event(0));  // the error sticks
  if (later || later.error().sys_errno != EFBIG) return 4;
  Header h = sample_header();
  h.state = Header::State::kComplete;
  auto fin = w->finish(h);
  if (fin || fin.error().sys_errno != EFBIG) return 5;
  return 0;
}

int finish_over_limit(const std::string& dir) {
  auto w = TraceWriter::create(dir, sample_header());
  if (!w) return 1;
  for (uint64_t i = 0; i < 60; ++i) {  // ~30 kB of input, less compressed: fits in the buffers
    if (!w->append(make_event(i))) return 2;
  }
  Header h = sample_header();
  h.state = Header::State::kComplete;
  auto fin = w->finish(h);
  if (fin || fin.error().sys_errno != EFBIG) return 3;
  // finish() could not complete the trace and said so in the header.
  auto back = read_header(dir);
  if (!back || back->state != Header::State::kFailed) return 4;
  return 0;
}

int save_file_over_limit(const std::string& dir) {
  auto w = TraceWriter::create(dir + "/t", sample_header());
  if (!w) return 1;
  auto saved = w->save_file(dir + "/big");
  if (saved || saved.error().sys_errno != EFBIG) return 2;
  if (std::filesystem::exists(dir + "/t/files/00000-big")) return 3;  // no partial copy
  return 0;
}

TEST_CASE("a full disk or file size limit is reported with its errno", "[trace]") {
  TempDir tmp;
  CHECK(with_file_size_limit(64 << 10, fill_events_until_error, tmp / "a") == 0);
  CHECK(with_file_size_limit(8 << 10, finish_over_limit, tmp / "b") == 0);
  write_file(tmp / "big", pattern(13, 200000));
  CHECK(with_file_size_limit(64 << 10, save_file_over_limit, tmp.path) == 0);
}

// ---- trace naming ----

struct EnvGuard {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvGuard() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }
};

TEST_CASE("default trace root follows the environment", "[trace][dir]") {
  EnvGuard env;
  env.set("RR_LIKE_TRACE_DIR", "/x/traces");
  env.set("XDG_DATA_HOME", "/x/data");
  env.set("HOME", "/x/home");
  CHECK(default_trace_root() == "/x/traces");
  env.set("RR_LIKE_TRACE_DIR", nullptr);
  CHECK(default_trace_root() == "/x/data/rr-like");
  env.set("XDG_DATA_HOME", nullptr);
  CHECK(default_trace_root() == "/x/home/.local/share/rr-like");
}

TEST_CASE("trace names, the latest link and lookup", "[trace][dir]") {
  TempDir tmp;
  std::string root = tmp / "root";
  EnvGuard env;
  env.set("RR_LIKE_TRACE_DIR", root.c_str());

  auto none = resolve_trace_dir(std::nullopt);
  REQUIRE_FALSE(none);
  CHECK(none.error().message ==
        "no traces yet in " + root + ": record one with `rr-like record PROG`");

  auto d0 = make_trace_dir_name(root, "prog");
  REQUIRE(d0);
  CHECK(*d0 == root + "/prog-0");
  auto d1 = make_trace_dir_name(root, "prog");
  REQUIRE(d1);
  CHECK(*d1 == root + "/prog-1");  // the first name is reserved
  write_trace(*d1, 3);             // a reserved, empty directory is accepted

  REQUIRE(update_latest_link(root, *d0));
  REQUIRE(update_latest_link(root, *d1));
  auto latest = resolve_trace_dir(std::nullopt);
  REQUIRE(latest);
  CHECK(*latest == *d1);
  CHECK(std::filesystem::read_symlink(root + "/latest-trace") == "prog-1");

  CHECK(*resolve_trace_dir("prog-0") == *d0);
  CHECK(*resolve_trace_dir(*d1) == *d1);
  CHECK_FALSE(resolve_trace_dir(""));  // not the root itself
  auto missing = resolve_trace_dir("nope-7");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "no trace named nope-7 (looked in " + root + ")");
}

TEST_CASE("records made later keep their place in the stream", "[trace][stream]") {
  TempDir tmp;
  std::string path = tmp / "s";
  auto w = StreamWriter::create(path);
  REQUIRE(w);
  REQUIRE(w->append(pattern(1, 10)));
  REQUIRE(w->append_later(2, [](std::vector<uint8_t>& out) -> Status {
    RRL_TRY(StreamWriter::frame(out, pattern(2, 20)));
    return StreamWriter::frame(out, pattern(3, 30));
  }));
  REQUIRE(w->append(pattern(4, 40)));
  REQUIRE(w->append_later(0, [](std::vector<uint8_t>&) { return Status{}; }));
  REQUIRE(w->append(pattern(5, 50)));
  REQUIRE(w->close());
  CHECK(w->record_count() == 5);
  auto r = StreamReader::open(path);
  REQUIRE(r);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto got = r->next();
    REQUIRE(got);
    REQUIRE(*got);
    CHECK(**got == pattern(seed, 10 * seed));
  }
  auto end = r->next();
  REQUIRE(end);
  CHECK_FALSE(*end);
}

TEST_CASE("a producer's error fails the stream", "[trace][stream]") {
  TempDir tmp;
  auto w = StreamWriter::create(tmp / "s");
  REQUIRE(w);
  REQUIRE(w->append_later(1, [](std::vector<uint8_t>&) -> Status { return fail("no records"); }));
  auto closed = w->close();
  REQUIRE_FALSE(closed);
  CHECK(contains(closed.error().message, "no records"));
}

TEST_CASE("buffered syscalls encoded later are the events append_buffered writes", "[trace]") {
  TempDir tmp;
  const uint64_t args[6] = {3, 0x1000, 16, 0, 0, 0};
  const std::vector<uint8_t> data = pattern(7, 16);
  const BufferedSyscallView::Write writes[1] = {{0x1000, data}};
  auto view = [&](int64_t nr) {
    return BufferedSyscallView{nr, std::span<const uint64_t, 6>(args, 6), 16,
                               SyscallEvent::kToStdout, writes};
  };
  auto write = [&](const std::string& dir, bool later) {
    auto w = TraceWriter::create(dir, sample_header());
    REQUIRE(w);
    REQUIRE(w->append(make_event(0)));
    if (later) {
      REQUIRE(w->append_buffered_later(1, 42, 3, [&](const TraceWriter::BufferedEmit& emit) {
        for (int64_t nr : {0, 1, 17}) emit(view(nr));
        return Status{};
      }));
    } else {
      uint64_t number = 1;
      for (int64_t nr : {0, 1, 17}) REQUIRE(w->append_buffered(number++, 42, view(nr)));
    }
    CHECK(w->event_count() == 4);
    Header final = sample_header();
    final.state = Header::State::kComplete;
    REQUIRE(w->finish(final));
  };
  write(tmp / "now", false);
  write(tmp / "later", true);
  auto a = TraceReader::open(tmp / "now");
  auto b = TraceReader::open(tmp / "later");
  REQUIRE(a);
  REQUIRE(b);
  for (int i = 0; i < 4; ++i) {
    auto ea = a->next();
    auto eb = b->next();
    REQUIRE(ea);
    REQUIRE(eb);
    REQUIRE(*ea);
    REQUIRE(*eb);
    ByteWriter bytes_a, bytes_b;
    encode_event(**ea, bytes_a);
    encode_event(**eb, bytes_b);
    CHECK(bytes_a.data() == bytes_b.data());
    if (i > 0) {
      CHECK((*eb)->number == static_cast<uint64_t>(i));
      CHECK((*eb)->tid == 42);
      const auto* bs = std::get_if<BufferedSyscallEvent>(&(*eb)->data);
      REQUIRE(bs);
      CHECK(bs->writes.size() == 1);
    }
  }
}

TEST_CASE("buffered syscalls encoded later must be as many as announced", "[trace]") {
  TempDir tmp;
  auto w = TraceWriter::create(tmp / "t", sample_header());
  REQUIRE(w);
  const uint64_t args[6] = {};
  REQUIRE(w->append_buffered_later(0, 1, 2, [&](const TraceWriter::BufferedEmit& emit) {
    emit({39, std::span<const uint64_t, 6>(args, 6), 7, 0, {}});
    return Status{};
  }));
  Header final = sample_header();
  final.state = Header::State::kComplete;
  auto st = w->finish(final);
  REQUIRE_FALSE(st);
  CHECK(contains(st.error().message, "2 buffered syscalls were announced, 1 came"));
}
