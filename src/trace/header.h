// The trace header: what was recorded, on which machine, and whether the
// recording finished. It lives in the file "header" of the trace directory:
//   magic "RRLIKE\0T", u32 version, u64 body length, body, u64 FNV-1a of body
// where the body is Header encoded with rrl::ByteWriter. The version comes
// right after the magic so that any future layout is still recognised and
// refused with a clear message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace rrl::trace {

// Bump whenever the header, the event encoding (events.h) or the stream
// format (stream.h) changes. Readers accept exactly this version.
constexpr uint32_t kTraceVersion = 5;  // 2: buffered syscalls; 3: progress words; 4: chaos, branch
                                       // counts; 5: aborted buffered syscalls, deferred patches

struct Header {
  enum class State : uint8_t { kRecording, kComplete, kInterrupted, kFailed };
  struct CpuidLeaf {
    uint32_t leaf = 0, subleaf = 0, eax = 0, ebx = 0, ecx = 0, edx = 0;
    bool operator==(const CpuidLeaf&) const = default;
  };

  uint32_t version = kTraceVersion;
  State state = State::kRecording;
  std::string failure_reason;  // for kInterrupted / kFailed
  std::string program;         // the executable, path resolved
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd;
  int64_t start_time_ns = 0;  // CLOCK_REALTIME
  int64_t end_time_ns = 0;
  uint64_t event_count = 0;
  int32_t exit_status = -1;  // shell style: exit code, or 128+signal; -1 unknown
  std::string kernel_release;
  std::string cpu_vendor;
  std::string cpu_model;
  std::vector<CpuidLeaf> cpuid;
  bool syscall_buffer = false;
  bool chaos = false;           // recorded with --chaos
  uint64_t chaos_seed = 0;      // its seed
  uint8_t progress_source = 0;  // progress::Kind: 0 software, 1 branch counter

  bool operator==(const Header&) const = default;
};

// "recording", "complete", "interrupted", "failed".
std::string state_name(Header::State s);

// Replaces DIR/header atomically (temporary file, rename): another process
// sees either the old header or the new one, never a mix. With `durable`
// (fsync of the file before the rename, of DIR after it), so does a machine
// that crashes. The first header of a recording need not be: a crash loses
// that recording whatever its header says.
Status write_header(const std::string& dir, const Header& h, bool durable = true);
// Errors: DIR is not a trace (no header, wrong magic), an unsupported format
// version (older or newer), a truncated or damaged header.
Expected<Header> read_header(const std::string& dir);

}  // namespace rrl::trace
