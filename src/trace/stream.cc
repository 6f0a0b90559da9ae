#include "trace/stream.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "trace/fs_util.h"

namespace rrl::trace {

namespace {

// A length no record can have: marks the end record.
constexpr uint32_t kEndMarker = 0xffffffff;
// Recording speed matters more than trace size; level 1 is the fastest
// ordinary level and still shrinks register dumps several times.
constexpr int kCompressionLevel = 1;

// The compressing thread's nice value. It also encodes the full halves of
// the syscall buffer (recorder/syscallbuf.cc). The recorded program comes
// first: at nice 0 this thread kept taking turns with the program on its
// CPU, which made syscall_heavy's recording about 5% slower (bench/). Whoever
// waits for this thread (a flush, the next full half, the end of the
// recording) has the program stopped, so it has a CPU then.
constexpr int kCompressorNice = 19;

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

// The compressing half of a StreamWriter. The recorder's thread hands it
// batches of whole records; its own thread compresses them into frames and
// writes them, in order. Frames end only between batches, so only between
// records: the reader relies on it. flush() and close() wait until everything
// handed over is written. Its thread blocks every signal: rr-like's SIGALRM
// and SIGINT must interrupt the scheduler's waitpid, not land here. It starts
// with the first batch, after the recorded program was forked (the child of a
// multi-threaded process could deadlock in malloc).
struct StreamWriter::Compressor {
  struct Job {
    std::vector<uint8_t> bytes;
    bool end_frame = false;
    Producer produce;  // append_later(): makes the bytes here
  };

  std::string path;
  ScopedFd fd;
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx{nullptr, &ZSTD_freeCCtx};
  std::vector<uint8_t> out;  // compressed bytes not yet written
  size_t out_used = 0;
  size_t frame_input = 0;  // uncompressed bytes fed into the current frame

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  bool busy = false;  // the thread is working on a job taken from `jobs`
  bool stop = false;
  // After a failed write the file ends in a partial frame: every later call
  // reports the first error instead of writing after the hole.
  std::optional<Error> failed;
  std::atomic<bool> has_failed{false};  // `failed` is set: checked without the lock
  std::vector<uint8_t> produced;        // a Producer's output, reused
  std::thread thread;

  ~Compressor() { stop_thread(); }

  Status write_out() {
    auto st = write_all(fd.get(), std::span(out).first(out_used), path);
    out_used = 0;
    return st;
  }

  // Compresses `bytes` into the current frame; with end_frame, also ends the
  // frame and writes all of it out.
  Status feed(std::span<const uint8_t> bytes, bool end_frame) {
    ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
    auto mode = end_frame ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
      ZSTD_outBuffer zout{out.data(), out.size(), out_used};
      size_t left = ZSTD_compressStream2(cctx.get(), &zout, &in, mode);
      out_used = zout.pos;
      if (ZSTD_isError(left))
        return fail("cannot compress " + path + ": " + ZSTD_getErrorName(left));
      if (out_used == out.size()) RRL_TRY(write_out());
      if (end_frame ? left == 0 : in.pos == in.size) break;
    }
    frame_input += bytes.size();
    if (!end_frame) return {};
    frame_input = 0;
    return write_out();
  }

  Status run(Job& job) {
    if (job.produce) {
      produced.clear();
      RRL_TRY(job.produce(produced));
      RRL_TRY(feed(produced, /*end_frame=*/false));
    }
    if (!job.bytes.empty()) RRL_TRY(feed(job.bytes, /*end_frame=*/false));
    if (frame_input == 0 || (!job.end_frame && frame_input < kFrameInputBytes)) return {};
    RRL_TRY(feed({}, /*end_frame=*/true));
    // Written back as it goes, close()'s fsync has little left to wait for.
    if (job.end_frame) (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    return {};
  }

  void loop() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !jobs.empty(); });
      if (jobs.empty()) return;  // stopping, and nothing left
      Job job = std::move(jobs.front());
      jobs.pop_front();
      busy = true;
      lock.unlock();
      Status st = failed ? Status{} : run(job);
      lock.lock();
      busy = false;
      if (!st && !failed) {
        failed = st.error();
        has_failed = true;
      }
      cv.notify_all();
    }
  }

  void start_thread() {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    thread = std::thread([this] {
      // Per thread on Linux; failing only leaves it at the usual priority.
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kCompressorNice);
      loop();
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void stop_thread() {
    if (!thread.joinable()) return;
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }

  // Hands a job over; too much waiting already makes the caller wait.
  void submit(Job job) {
    constexpr size_t kMaxQueued = 32;
    if (!thread.joinable()) start_thread();
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return jobs.size() < kMaxQueued; });
    jobs.push_back(std::move(job));
    cv.notify_all();
  }

  // Waits until every job handed over is done; the first error, if any.
  Status drain() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return jobs.empty() && !busy; });
    if (failed) return std::unexpected(*failed);
    return {};
  }
};

StreamWriter::StreamWriter(StreamWriter&&) noexcept = default;
StreamWriter& StreamWriter::operator=(StreamWriter&&) noexcept = default;
StreamWriter::~StreamWriter() = default;

const std::string& StreamWriter::path() const {
  return compressor_->path;
}

Expected<StreamWriter> StreamWriter::create(const std::string& path) {
  StreamWriter w;
  w.compressor_ = std::make_unique<Compressor>();
  Compressor& c = *w.compressor_;
  c.path = path;
  c.fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!c.fd.valid()) return fail_errno("cannot create " + path);
  c.cctx.reset(ZSTD_createCCtx());
  if (!c.cctx) return fail("cannot create a zstd compression context");
  // The content checksum is what lets the reader tell a damaged trace from a
  // good one.
  ZSTD_CCtx_setParameter(c.cctx.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(c.cctx.get(), ZSTD_c_compressionLevel, kCompressionLevel);
  c.out.resize(ZSTD_CStreamOutSize());
  return w;
}

Status StreamWriter::check_usable() const {
  if (!compressor_) return fail("a moved-from stream writer");
  if (compressor_->has_failed) {
    std::lock_guard lock(compressor_->mu);
    return std::unexpected(*compressor_->failed);
  }
  if (closed_ || !compressor_->fd.valid()) return fail(compressor_->path + " is already closed");
  return {};
}

Status StreamWriter::frame(std::vector<uint8_t>& out, std::span<const uint8_t> record) {
  if (record.size() >= kEndMarker)
    return fail("a record of " + std::to_string(record.size()) + " bytes is too large");
  uint32_t len = static_cast<uint32_t>(record.size());
  auto len_bytes = as_bytes(&len, sizeof len);
  out.insert(out.end(), len_bytes.begin(), len_bytes.end());
  out.insert(out.end(), record.begin(), record.end());
  return {};
}

Status StreamWriter::append(std::span<const uint8_t> record) {
  RRL_TRY(check_usable());
  if (auto st = frame(batch_, record); !st)
    return fail(st.error().message + " for " + compressor_->path);
  ++count_;
  if (batch_.size() >= kBatchBytes) compressor_->submit({std::exchange(batch_, {}), false, {}});
  return {};
}

Status StreamWriter::append_later(uint64_t count, Producer produce) {
  RRL_TRY(check_usable());
  // What came before goes first.
  if (!batch_.empty()) compressor_->submit({std::exchange(batch_, {}), false, {}});
  compressor_->submit({{}, false, std::move(produce)});
  count_ += count;
  return {};
}

Status StreamWriter::flush_soon() {
  RRL_TRY(check_usable());
  compressor_->submit({std::exchange(batch_, {}), /*end_frame=*/true, {}});
  return {};
}

Status StreamWriter::flush() {
  RRL_TRY(check_usable());
  compressor_->submit({std::exchange(batch_, {}), /*end_frame=*/true, {}});
  return compressor_->drain();
}

Status StreamWriter::close() {
  RRL_TRY(check_usable());
  Compressor& c = *compressor_;
  uint8_t marker[12];
  std::memcpy(marker, &kEndMarker, 4);
  std::memcpy(marker + 4, &count_, 8);
  batch_.insert(batch_.end(), marker, marker + sizeof marker);
  c.submit({std::exchange(batch_, {}), /*end_frame=*/true, {}});
  auto st = c.drain();
  c.stop_thread();
  if (st && ::fsync(c.fd.get()) != 0) st = fail_errno("cannot sync " + c.path);
  if (st) st = close_checked(c.fd, c.path);
  closed_ = true;
  if (!st) {
    std::lock_guard lock(c.mu);
    if (!c.failed) c.failed = st.error();
  }
  return st;
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
