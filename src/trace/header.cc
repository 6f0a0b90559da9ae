#include "trace/header.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "common/scoped_fd.h"
#include "common/serialize.h"
#include "trace/fs_util.h"

namespace rrl::trace {

namespace {

constexpr char kMagic[8] = {'R', 'R', 'L', 'I', 'K', 'E', '\0', 'T'};
constexpr size_t kPreambleSize = sizeof kMagic + sizeof(uint32_t);
// A header is a few kB (the environment dominates); anything near this is garbage.
constexpr uint64_t kMaxBodySize = 64 << 20;

// Detects a damaged body; not a defence against tampering.
uint64_t fnv1a(std::span<const uint8_t> data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : data) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

std::vector<uint8_t> encode_body(const Header& h) {
  ByteWriter w;
  w.u8(static_cast<uint8_t>(h.state));
  w.str(h.failure_reason);
  w.str(h.program);
  w.strings(h.argv);
  w.strings(h.envp);
  w.str(h.cwd);
  w.i64(h.start_time_ns);
  w.i64(h.end_time_ns);
  w.u64(h.event_count);
  w.u32(static_cast<uint32_t>(h.exit_status));
  w.str(h.kernel_release);
  w.str(h.cpu_vendor);
  w.str(h.cpu_model);
  w.u64(h.cpuid.size());
  for (const auto& c : h.cpuid) {
    for (uint32_t v : {c.leaf, c.subleaf, c.eax, c.ebx, c.ecx, c.edx}) w.u32(v);
  }
  w.u8(h.syscall_buffer);
  w.u8(h.chaos);
  w.u64(h.chaos_seed);
  w.u8(h.progress_source);
  return w.take();
}

bool decode_body(std::span<const uint8_t> body, Header& h) {
  ByteReader rd(body);
  uint8_t state = rd.u8();
  if (state > static_cast<uint8_t>(Header::State::kFailed)) return false;
  h.state = static_cast<Header::State>(state);
  h.failure_reason = rd.str();
  h.program = rd.str();
  h.argv = rd.strings();
  h.envp = rd.strings();
  h.cwd = rd.str();
  h.start_time_ns = rd.i64();
  h.end_time_ns = rd.i64();
  h.event_count = rd.u64();
  h.exit_status = static_cast<int32_t>(rd.u32());
  h.kernel_release = rd.str();
  h.cpu_vendor = rd.str();
  h.cpu_model = rd.str();
  uint64_t n = rd.u64();
  for (uint64_t i = 0; i < n && rd.ok(); ++i) {
    Header::CpuidLeaf c;
    for (uint32_t* v : {&c.leaf, &c.subleaf, &c.eax, &c.ebx, &c.ecx, &c.edx}) *v = rd.u32();
    h.cpuid.push_back(c);
  }
  h.syscall_buffer = rd.u8() != 0;
  h.chaos = rd.u8() != 0;
  h.chaos_seed = rd.u64();
  h.progress_source = rd.u8();
  return rd.ok() && rd.at_end();
}

std::vector<uint8_t> encode_file(const Header& h) {
  std::vector<uint8_t> body = encode_body(h);
  ByteWriter w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(h.version);
  w.u64(body.size());
  w.raw(body.data(), body.size());
  w.u64(fnv1a(body));
  return w.take();
}

Expected<std::vector<uint8_t>> read_whole(const std::string& path, const std::string& dir) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(dir + " is not an rr-like trace (cannot open " + path + ")");
  std::vector<uint8_t> data;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot read " + path);
    if (n == 0) return data;
    data.insert(data.end(), buf, buf + n);
    if (data.size() > kMaxBodySize) return fail("the trace header " + path + " is too large");
  }
}

}  // namespace

std::string state_name(Header::State s) {
  switch (s) {
    case Header::State::kRecording:
      return "recording";
    case Header::State::kComplete:
      return "complete";
    case Header::State::kInterrupted:
      return "interrupted";
    case Header::State::kFailed:
      return "failed";
  }
  return "unknown";
}

Status write_header(const std::string& dir, const Header& h, bool durable) {
  std::string tmp = dir + "/header.tmp";
  std::string path = dir + "/header";
  ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return fail_errno("cannot create " + tmp);
  RRL_TRY(write_all(fd.get(), encode_file(h), tmp));
  if (durable && ::fsync(fd.get()) != 0) return fail_errno("cannot sync " + tmp);
  RRL_TRY(close_checked(fd, tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail_errno("cannot rename " + tmp + " to " + path);
  // The rename itself is durable only once the directory is synced.
  return durable ? fsync_path(dir) : Status{};
}

Expected<Header> read_header(const std::string& dir) {
  if (!is_directory(dir)) return fail(dir + " is not an rr-like trace (no such directory)");
  std::string path = dir + "/header";
  auto data = read_whole(path, dir);
  if (!data) return std::unexpected(data.error());
  if (data->size() < sizeof kMagic || std::memcmp(data->data(), kMagic, sizeof kMagic) != 0)
    return fail(dir + " is not an rr-like trace (its header file has the wrong magic)");
  const std::vector<uint8_t>& d = *data;
  Header h;
  if (d.size() < kPreambleSize) return fail("the trace header " + path + " is truncated");
  std::memcpy(&h.version, d.data() + sizeof kMagic, sizeof h.version);
  if (h.version != kTraceVersion)
    return fail("cannot read " + dir + ": trace format version " + std::to_string(h.version) +
                " is not supported by this rr-like (it reads version " +
                std::to_string(kTraceVersion) + ")");
  uint64_t size = 0, sum = 0;
  size_t rest = d.size() - kPreambleSize;  // body length, body, checksum
  if (rest < 2 * sizeof(uint64_t)) return fail("the trace header " + path + " is truncated");
  std::memcpy(&size, d.data() + kPreambleSize, sizeof size);
  if (size > rest - 2 * sizeof(uint64_t)) return fail("the trace header " + path + " is truncated");
  auto body = std::span(d).subspan(kPreambleSize + sizeof size, size);
  std::memcpy(&sum, body.data() + size, sizeof sum);
  if (rest != size + 2 * sizeof(uint64_t) || sum != fnv1a(body) || !decode_body(body, h))
    return fail("the trace header " + path + " is damaged (checksum or layout mismatch)");
  return h;
}

}  // namespace rrl::trace
