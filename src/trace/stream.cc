#include "trace/stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>

#include "trace/fs_util.h"

namespace rrl::trace {

namespace {

// A length no record can have: marks the end record.
constexpr uint32_t kEndMarker = 0xffffffff;
// Recording speed matters more than trace size; level 1 is the fastest
// ordinary level and still shrinks register dumps several times.
constexpr int kCompressionLevel = 1;

constexpr const char* kTruncatedWording = " is truncated: ";
constexpr const char* kCorruptWording = " is corrupt: ";

std::span<const uint8_t> as_bytes(const void* p, size_t n) {
  return {static_cast<const uint8_t*>(p), n};
}

}  // namespace

bool is_truncated(const Error& e) {
  return e.message.find(kTruncatedWording) != std::string::npos;
}
bool is_corrupt(const Error& e) {
  return e.message.find(kCorruptWording) != std::string::npos;
}

// ---- StreamWriter ----

void StreamWriter::CCtxFree::operator()(ZSTD_CCtx_s* c) const {
  ZSTD_freeCCtx(c);
}

StreamWriter::StreamWriter(StreamWriter&&) noexcept = default;
StreamWriter& StreamWriter::operator=(StreamWriter&&) noexcept = default;
StreamWriter::~StreamWriter() = default;

Expected<StreamWriter> StreamWriter::create(const std::string& path) {
  StreamWriter w;
  w.path_ = path;
  w.fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!w.fd_.valid()) return fail_errno("cannot create " + path);
  w.cctx_.reset(ZSTD_createCCtx());
  if (!w.cctx_) return fail("cannot create a zstd compression context");
  // The content checksum is what lets the reader tell a damaged trace from a
  // good one.
  ZSTD_CCtx_setParameter(w.cctx_.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(w.cctx_.get(), ZSTD_c_compressionLevel, kCompressionLevel);
  w.out_.resize(ZSTD_CStreamOutSize());
  return w;
}

Status StreamWriter::check_usable() const {
  if (failed_) return std::unexpected(*failed_);
  if (closed_ || !fd_.valid()) return fail(path_ + " is already closed");
  return {};
}

Status StreamWriter::remember(Status st) {
  if (!st) failed_ = st.error();
  return st;
}

Status StreamWriter::write_out() {
  auto st = write_all(fd_.get(), std::span(out_).first(out_used_), path_);
  out_used_ = 0;
  return st;
}

// Compresses `bytes` into the current frame; with end_frame, also ends the
// frame and writes all of it out.
Status StreamWriter::feed(std::span<const uint8_t> bytes, bool end_frame) {
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  auto mode = end_frame ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), out_used_};
    size_t left = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
    out_used_ = out.pos;
    if (ZSTD_isError(left))
      return fail("cannot compress " + path_ + ": " + ZSTD_getErrorName(left));
    if (out_used_ == out_.size()) RRL_TRY(write_out());
    if (end_frame ? left == 0 : in.pos == in.size) break;
  }
  frame_input_ += bytes.size();
  if (!end_frame) return {};
  frame_input_ = 0;
  return write_out();
}

// Compresses the batched records into the current frame, and ends the frame
// when it has grown large enough. The batch holds whole records only, so
// frames still end between records: the reader relies on it.
Status StreamWriter::feed_batch() {
  if (batch_.empty()) return {};
  auto st = feed(batch_, /*end_frame=*/false);
  batch_.clear();
  if (st && frame_input_ >= kFrameInputBytes) st = feed({}, /*end_frame=*/true);
  return st;
}

Status StreamWriter::append(std::span<const uint8_t> record) {
  RRL_TRY(check_usable());
  if (record.size() >= kEndMarker)
    return fail("a record of " + std::to_string(record.size()) + " bytes is too large for " +
                path_);
  uint32_t len = static_cast<uint32_t>(record.size());
  auto len_bytes = as_bytes(&len, sizeof len);
  batch_.insert(batch_.end(), len_bytes.begin(), len_bytes.end());
  batch_.insert(batch_.end(), record.begin(), record.end());
  ++count_;
  if (batch_.size() < kBatchBytes) return {};
  return remember(feed_batch());
}

Status StreamWriter::flush() {
  RRL_TRY(check_usable());
  if (auto st = feed_batch(); !st) return remember(st);
  if (frame_input_ == 0) return {};
  auto st = feed({}, /*end_frame=*/true);
  // Written back as it goes, close()'s fsync has little left to wait for.
  if (st) (void)::sync_file_range(fd_.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  return remember(st);
}

Status StreamWriter::close() {
  RRL_TRY(check_usable());
  uint8_t marker[12];
  std::memcpy(marker, &kEndMarker, 4);
  std::memcpy(marker + 4, &count_, 8);
  batch_.insert(batch_.end(), marker, marker + sizeof marker);
  auto st = feed(batch_, /*end_frame=*/true);
  batch_.clear();
  if (st && ::fsync(fd_.get()) != 0) st = fail_errno("cannot sync " + path_);
  if (st) st = close_checked(fd_, path_);
  closed_ = true;
  return remember(st);
}

// ---- StreamReader ----

void StreamReader::DCtxFree::operator()(ZSTD_DCtx_s* d) const {
  ZSTD_freeDCtx(d);
}

StreamReader::StreamReader(StreamReader&&) noexcept = default;
StreamReader& StreamReader::operator=(StreamReader&&) noexcept = default;
StreamReader::~StreamReader() = default;

Expected<StreamReader> StreamReader::open(const std::string& path) {
  StreamReader r;
  r.path_ = path;
  r.fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!r.fd_.valid()) return fail_errno("cannot open " + path);
  r.dctx_.reset(ZSTD_createDCtx());
  if (!r.dctx_) return fail("cannot create a zstd decompression context");
  r.in_.resize(ZSTD_DStreamInSize());
  return r;
}

std::unexpected<Error> StreamReader::fail_as(StreamFailure kind, const std::string& what, int err) {
  failure_ = kind;
  std::string msg;
  switch (kind) {
    case StreamFailure::kTruncated:
      msg = path_ + kTruncatedWording + what;
      break;
    case StreamFailure::kCorrupt:
      msg = path_ + kCorruptWording + what;
      break;
    default:
      msg = "cannot read " + path_ + what;
      break;
  }
  error_ = Error{std::move(msg), err};
  return std::unexpected(*error_);
}

// Makes compressed input available; returns how many bytes, 0 at end of file.
Expected<size_t> StreamReader::read_input() {
  if (in_pos_ < in_len_) return in_len_ - in_pos_;
  for (;;) {
    ssize_t n = ::read(fd_.get(), in_.data(), in_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_as(StreamFailure::kIo, "", errno);
    in_pos_ = 0;
    in_len_ = static_cast<size_t>(n);
    return in_len_;
  }
}

// Decompresses the buffered input into frame_; true once the frame is complete
// (and its checksum verified), false when more input is needed.
Expected<bool> StreamReader::decompress_available() {
  const size_t chunk = ZSTD_DStreamOutSize();
  ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
  for (;;) {
    size_t old = frame_.size();
    frame_.resize(old + chunk);
    ZSTD_outBuffer out{frame_.data() + old, chunk, 0};
    size_t ret = ZSTD_decompressStream(dctx_.get(), &out, &in);
    frame_.resize(old + out.pos);
    in_pos_ = in.pos;
    if (ZSTD_isError(ret))
      return fail_as(StreamFailure::kCorrupt, std::string("zstd: ") + ZSTD_getErrorName(ret) +
                                                  " (after " + std::to_string(count_) +
                                                  " records)");
    if (ret == 0) return true;
    if (in.pos == in.size && out.pos < out.size) return false;
  }
}

// Loads the next whole frame. Records are handed out only from frames whose
// checksum has been verified, so a damaged stream never yields garbage
// records before its error. Returns false at a clean end of file.
Expected<bool> StreamReader::load_frame() {
  frame_.clear();
  frame_pos_ = 0;
  bool started = false;
  for (;;) {
    auto n = read_input();
    if (!n) return std::unexpected(n.error());
    if (*n == 0) {
      if (!started) return false;
      return fail_as(StreamFailure::kTruncated, "it ends inside a compressed frame (after " +
                                                    std::to_string(count_) + " records)");
    }
    started = true;
    auto complete = decompress_available();
    if (!complete) return std::unexpected(complete.error());
    if (*complete) return true;
  }
}

Status StreamReader::check_at_eof() {
  auto n = read_input();
  if (!n) return std::unexpected(n.error());
  if (*n != 0 || frame_pos_ != frame_.size())
    return fail_as(StreamFailure::kCorrupt, "data follows the end marker");
  return {};
}

Expected<std::optional<std::vector<uint8_t>>> StreamReader::end_marker() {
  uint64_t expected = 0;
  if (frame_.size() - frame_pos_ < sizeof expected)
    return fail_as(StreamFailure::kCorrupt, "the end marker is cut short");
  std::memcpy(&expected, frame_.data() + frame_pos_, sizeof expected);
  frame_pos_ += sizeof expected;
  if (expected != count_)
    return fail_as(StreamFailure::kCorrupt, "the end marker counts " + std::to_string(expected) +
                                                " records but there are " + std::to_string(count_));
  RRL_TRY(check_at_eof());
  done_ = true;
  return std::nullopt;
}

Expected<std::optional<std::vector<uint8_t>>> StreamReader::next() {
  if (error_) return std::unexpected(*error_);
  if (done_) return std::nullopt;
  while (frame_pos_ == frame_.size()) {
    auto loaded = load_frame();
    if (!loaded) return std::unexpected(loaded.error());
    if (!*loaded)
      return fail_as(StreamFailure::kTruncated, "it ends before its end marker (after " +
                                                    std::to_string(count_) + " records)");
  }
  uint32_t len = 0;
  if (frame_.size() - frame_pos_ < sizeof len)
    return fail_as(StreamFailure::kCorrupt, "a record length is cut off by the end of a frame");
  std::memcpy(&len, frame_.data() + frame_pos_, sizeof len);
  frame_pos_ += sizeof len;
  if (len == kEndMarker) return end_marker();
  if (len > frame_.size() - frame_pos_)
    return fail_as(StreamFailure::kCorrupt,
                   "record " + std::to_string(count_) + " runs past the end of its frame");
  auto first = frame_.begin() + static_cast<ptrdiff_t>(frame_pos_);
  std::vector<uint8_t> record(first, first + len);
  frame_pos_ += len;
  ++count_;
  return record;
}

}  // namespace rrl::trace
