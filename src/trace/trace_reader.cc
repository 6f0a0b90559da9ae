#include "trace/trace_reader.h"

namespace rrl::trace {

Expected<TraceReader> TraceReader::open(const std::string& dir) {
  auto header = read_header(dir);
  if (!header) return std::unexpected(header.error());
  auto events = StreamReader::open(dir + "/events");
  // The recorder died between writing the header and creating the stream.
  if (!events && events.error().sys_errno == ENOENT && header->state != Header::State::kComplete)
    return fail("trace " + dir + " is incomplete: the recording stopped before any event (" +
                state_name(header->state) + ")");
  if (!events) return std::unexpected(events.error());
  return TraceReader(dir, std::move(*header), std::move(*events));
}

std::unexpected<Error> TraceReader::incomplete_error() const {
  std::string why;
  switch (header_.state) {
    case Header::State::kInterrupted:
      why = "the recording was interrupted";
      break;
    case Header::State::kFailed:
      why = "the recording failed";
      break;
    default:
      why = "the recording never finished (rr-like was killed, or is still recording)";
  }
  if (!header_.failure_reason.empty()) why += " (" + header_.failure_reason + ")";
  return fail("trace " + dir_ + " is incomplete: " + why + "; only its first " +
              std::to_string(events_.records_read()) + " events were saved");
}

std::unexpected<Error> TraceReader::stream_error(const Error& e) const {
  if (events_.failure() == StreamFailure::kTruncated && incomplete()) return incomplete_error();
  if (events_.failure() == StreamFailure::kIo) return std::unexpected(e);
  return fail("trace " + dir_ + " is damaged: " + e.message);
}

Expected<std::optional<Event>> TraceReader::next() {
  auto record = events_.next();
  if (!record) return stream_error(record.error());
  if (!*record) {
    // A clean end with a header that is not kComplete: the recorder died
    // between closing the stream and rewriting the header. Still incomplete.
    if (incomplete()) return incomplete_error();
    if (events_.records_read() != header_.event_count)
      return fail("trace " + dir_ + " is damaged: its header counts " +
                  std::to_string(header_.event_count) + " events but it holds " +
                  std::to_string(events_.records_read()));
    return std::nullopt;
  }
  auto ev = decode_event(**record);
  if (!ev)
    return fail("trace " + dir_ + " is damaged: record " +
                std::to_string(events_.records_read() - 1) + ": " + ev.error().message);
  return std::optional<Event>(std::move(*ev));
}

std::string TraceReader::file_path(const std::string& trace_file) const {
  return dir_ + "/files/" + trace_file;
}

}  // namespace rrl::trace
