// A record stream: one file of length-prefixed records, zstd-compressed.
//
// Format. The file is a sequence of zstd frames, each with a content checksum.
// Decompressed, the frames hold records framed as `u32 length, payload`; a
// record never spans two frames, because the writer only ends a frame between
// records. The last record of a finished stream is the end marker: the u32
// kEndMarker followed by the u64 number of records before it. A stream that
// stops without an end marker was never closed (the recorder was killed or
// gave up): that is "truncated", which the reader reports differently from
// "corrupt" (a zstd error, a checksum mismatch, bad framing, a wrong count).
//
// Durability. flush() ends the current frame and hands it to the kernel, so a
// reader sees every record appended before the flush even if the writer is
// SIGKILLed right after; close() also fsyncs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/scoped_fd.h"

struct ZSTD_DCtx_s;

namespace rrl::trace {

// Why a StreamReader stopped with an error.
enum class StreamFailure : uint8_t {
  kNone,
  kIo,         // read(2) failed
  kTruncated,  // the file ends before the end marker
  kCorrupt,    // undecodable, checksum mismatch, bad framing or record count
};

// True for the errors StreamReader::next() returns for a stream that ends
// before its end marker (recognised by the message's fixed wording).
bool is_truncated(const Error& e);
// True for the errors StreamReader::next() returns for damaged data.
bool is_corrupt(const Error& e);

class StreamWriter {
 public:
  // A frame is ended after about this much uncompressed input, so that a
  // reader never needs more than about this much memory (plus one record).
  static constexpr size_t kFrameInputBytes = 1 << 20;
  // Records are compressed in batches of about this many bytes: one zstd call
  // per record costs more than compressing it when records are small (a
  // buffered syscall is about a hundred bytes).
  static constexpr size_t kBatchBytes = 64 << 10;

  static Expected<StreamWriter> create(const std::string& path);

  StreamWriter(StreamWriter&&) noexcept;
  StreamWriter& operator=(StreamWriter&&) noexcept;
  ~StreamWriter();  // without close(): no end marker, unflushed records lost

  Status append(std::span<const uint8_t> record);
  // Records made later, on the compressing thread, in their place in the
  // stream: `produce` runs there once and appends exactly `count` records,
  // each framed by frame(). The recorder hands over its syscall-buffer
  // flushes this way, so that encoding them runs alongside the recorded
  // program instead of holding it up.
  using Producer = std::move_only_function<Status(std::vector<uint8_t>& out)>;
  Status append_later(uint64_t count, Producer produce);
  // Appends `record` to `out` as append() frames it (its length first).
  static Status frame(std::vector<uint8_t>& out, std::span<const uint8_t> record);
  Status flush();
  // Ends the current frame without waiting for it to be written: a recorder
  // killed with SIGKILL shortly after still leaves it readable.
  Status flush_soon();
  // Writes the end marker, flushes and fsyncs. The writer is unusable afterwards.
  Status close();

  uint64_t record_count() const { return count_; }
  const std::string& path() const;

 private:
  // Compressing and writing: done by a thread of its own (started with the
  // first full batch), so that the recorder goes back to its tracees while
  // zstd works on a batch. See stream.cc.
  struct Compressor;
  StreamWriter() = default;
  Status check_usable() const;

  std::unique_ptr<Compressor> compressor_;
  std::vector<uint8_t> batch_;  // whole records (length, payload) not yet handed over
  uint64_t count_ = 0;
  bool closed_ = false;
};

class StreamReader {
 public:
  static Expected<StreamReader> open(const std::string& path);

  StreamReader(StreamReader&&) noexcept;
  StreamReader& operator=(StreamReader&&) noexcept;
  ~StreamReader();

  // The next record; nullopt at the end marker (and on every call after it).
  Expected<std::optional<std::vector<uint8_t>>> next();

  StreamFailure failure() const { return failure_; }
  uint64_t records_read() const { return count_; }

 private:
  struct DCtxFree {
    void operator()(ZSTD_DCtx_s* d) const;
  };
  StreamReader() = default;
  Expected<bool> load_frame();
  Expected<bool> decompress_available();
  Expected<size_t> read_input();
  Status check_at_eof();
  Expected<std::optional<std::vector<uint8_t>>> end_marker();
  std::unexpected<Error> fail_as(StreamFailure kind, const std::string& what, int err = 0);

  std::string path_;
  ScopedFd fd_;
  std::unique_ptr<ZSTD_DCtx_s, DCtxFree> dctx_;
  std::vector<uint8_t> in_;  // compressed input, [in_pos_, in_len_) unread
  size_t in_pos_ = 0, in_len_ = 0;
  std::vector<uint8_t> frame_;  // decompressed content of one verified frame
  size_t frame_pos_ = 0;
  uint64_t count_ = 0;
  bool done_ = false;
  StreamFailure failure_ = StreamFailure::kNone;
  std::optional<Error> error_;  // once failed, every later next() repeats it
};

}  // namespace rrl::trace
