// Reads a trace directory written by TraceWriter: the header, then the events
// in order. A trace whose recording did not finish is still readable up to
// the last flush; the reader then ends with an "incomplete" error instead of
// pretending the program stopped there.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "common/error.h"
#include "trace/events.h"
#include "trace/header.h"
#include "trace/stream.h"

namespace rrl::trace {

class TraceReader {
 public:
  // Fails when DIR is not a trace, has another format version, or has no
  // events stream.
  static Expected<TraceReader> open(const std::string& dir);

  const Header& header() const { return header_; }
  const std::string& dir() const { return dir_; }
  // The recording did not finish (interrupted, failed, or killed while recording).
  bool incomplete() const { return header_.state != Header::State::kComplete; }
  // Why the last next() failed, as seen in the events stream.
  StreamFailure failure() const { return events_.failure(); }

  // The next event; nullopt after the last event of a complete trace. For an
  // incomplete trace the end is an error: "trace DIR is incomplete: ...".
  // Damage (checksum, framing, an undecodable event) is "trace DIR is damaged: ...".
  Expected<std::optional<Event>> next();

  // Where the trace keeps a saved file (MappingRecord::trace_file).
  std::string file_path(const std::string& trace_file) const;

 private:
  TraceReader(std::string dir, Header header, StreamReader events)
      : dir_(std::move(dir)), header_(std::move(header)), events_(std::move(events)) {}
  std::unexpected<Error> incomplete_error() const;
  std::unexpected<Error> stream_error(const Error& e) const;

  std::string dir_;
  Header header_;
  StreamReader events_;
};

}  // namespace rrl::trace
