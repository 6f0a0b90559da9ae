// Writes a trace directory:
//   DIR/header   the Header (header.h), rewritten atomically when the state changes
//   DIR/events   the event stream (stream.h), one encode_event() record per event
//   DIR/files/   contents of mapped files, copied (reflinked where possible)
// The header says kRecording from the first moment, so a recorder killed with
// SIGKILL leaves a trace that every tool recognises as incomplete; the events
// flushed before the kill stay readable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/error.h"
#include "common/serialize.h"
#include "trace/events.h"
#include "trace/header.h"
#include "trace/stream.h"

namespace rrl::trace {

class TraceWriter {
 public:
  // Creates DIR (and missing parents) with mode 0700; an existing DIR must be
  // empty. Writes `initial` with state kRecording before anything else.
  static Expected<TraceWriter> create(const std::string& dir, Header initial);

  TraceWriter(TraceWriter&&) noexcept;
  TraceWriter& operator=(TraceWriter&&) noexcept;
  // Without finish() or abandon(), the header keeps saying kRecording and
  // events since the last flush() are lost.
  ~TraceWriter();

  Status append(const Event& ev);
  // The same as append() of that BufferedSyscallEvent (events.h).
  Status append_buffered(uint64_t number, int32_t tid, const BufferedSyscallView& e);
  // Events first, first + 1, ... of task tid, `count` buffered syscalls in
  // all, encoded later on the stream's compressing thread (StreamWriter::
  // append_later): `views` runs there once and calls its argument with each
  // event in turn, exactly `count` times. The bytes are those of
  // append_buffered().
  using BufferedEmit = std::function<void(const BufferedSyscallView&)>;
  using BufferedViews = std::move_only_function<Status(const BufferedEmit&)>;
  Status append_buffered_later(uint64_t first, int32_t tid, uint64_t count, BufferedViews views);
  // Makes every event appended so far survive a SIGKILL of this process.
  Status flush();
  // The same, without waiting for the compressing thread to write it out.
  Status flush_soon();

  // Keeps the contents of the file that `path` opens (e.g. /proc/PID/map_files/...)
  // under files/ and returns its name there. `original_path` is the name the
  // recorded program knows it by; it names the copy. A file already saved (same device, inode, size
  // and mtime) is not saved again: the earlier name is returned.
  Expected<std::string> save_file(const std::string& path, const std::string& original_path = "");

  // Ends the event stream (end marker, fsync), syncs the saved files and
  // rewrites the header as `final` (normally kComplete), with event_count set
  // to the number of events appended.
  Status finish(Header final);
  // For a recording that cannot finish: flushes what it can, writes no end
  // marker, and rewrites the header as `h`, whose state must be kInterrupted
  // or kFailed (with failure_reason saying why).
  Status abandon(Header h);

  uint64_t event_count() const { return event_count_; }
  const std::string& dir() const { return dir_; }

 private:
  // What makes two opens of a file the same contents, for deduplication.
  using FileKey = std::tuple<dev_t, ino_t, off_t, time_t, long>;

  TraceWriter() = default;
  Status check_open() const;
  std::string next_file_name(const std::string& original_path);
  Status copy_into_trace(int src, const std::string& dest, bool executable);
  Status sync_saved_files();

  std::string dir_;
  std::optional<StreamWriter> events_;  // empty once finished or abandoned
  ByteWriter scratch_;                  // reused encoding buffer
  uint64_t event_count_ = 0;
  uint32_t files_saved_ = 0;
  std::map<FileKey, std::string> saved_;
  struct Syncer;
  std::unique_ptr<Syncer> syncer_;  // fsyncs the saved copies (trace_writer.cc)
};

}  // namespace rrl::trace
