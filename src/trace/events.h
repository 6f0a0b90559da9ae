// The events of a trace, in the single global order in which they happened.
// This is the contract between the recorder, the replayer and `rr-like dump`;
// any change to the encoding bumps kTraceVersion (header.h).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/registers.h"
#include "common/serialize.h"

namespace rrl::trace {

// Bytes the kernel (or the recorder on the tracee's behalf) wrote into tracee memory.
struct MemWrite {
  uint64_t addr = 0;
  std::vector<uint8_t> data;
};

// A syscall as it completed: entry arguments, registers at exit, memory written.
struct SyscallEvent {
  enum Flags : uint8_t {
    kNone = 0,
    kRefused = 1,      // rr-like made it fail (e.g. rseq) without running it
    kUnknown = 2,      // not in the output table: memory effects not known
    kInterrupted = 4,  // ended by a signal (ERESTART* / EINTR)
    kToStdout = 8,     // wrote to the file rr-like's stdout is: replay shows it again
    kToStderr = 16,    // same for stderr
  };
  int64_t syscallno = 0;
  std::array<uint64_t, 6> args{};
  Registers regs;  // at syscall exit
  uint8_t flags = kNone;
  std::vector<MemWrite> writes;
  // Bytes the kernel moved to stdout/stderr without passing through the
  // program's memory (copy_file_range, sendfile, splice), for replay to show.
  std::vector<uint8_t> output;
};

// A signal delivered to the tracee (or one that killed it).
// A word of memory and its value: together with the registers, it tells
// apart visits of a loop that differ only in memory (see recorder/progress.cc).
struct MemWord {
  uint64_t addr = 0;
  uint64_t value = 0;
  bool operator==(const MemWord&) const = default;
};

struct SignalEvent {
  int32_t signo = 0;
  std::array<uint8_t, sizeof(siginfo_t)> siginfo{};
  Registers regs;              // at the delivery stop
  bool deterministic = false;  // raised by an instruction (SIGSEGV, SIGILL, ...) rather than sent
  std::vector<MemWord> progress;  // delivered at an arbitrary point: memory that identifies it
  bool arbitrary = false;         // delivered at an arbitrary point (a whole slice without a syscall)
  std::optional<uint64_t> branches;  // there: the branch count (progress/progress_source.h)
};

// rdtsc/rdtscp trapped and answered by the recorder.
struct RdtscEvent {
  uint64_t tsc = 0;
  uint32_t aux = 0;  // TSC_AUX, for rdtscp
  bool rdtscp = false;
  Registers regs;  // after emulation (ip past the instruction)
};

// A file-backed (or shared) mapping whose contents the trace keeps.
struct MappingRecord {
  uint64_t start = 0, end = 0;
  uint64_t offset = 0;
  uint32_t prot = 0, flags = 0;
  std::string path;        // original path in the recorded run
  std::string trace_file;  // name under files/ in the trace, empty if none
  uint64_t dev = 0, inode = 0;
};

struct ExecEvent {
  std::string path;        // the file that was executed
  std::string trace_file;  // its copy under files/
  std::vector<std::string> argv, envp;
  std::vector<uint8_t> auxv;            // raw /proc/PID/auxv
  std::array<uint8_t, 16> at_random{};  // the AT_RANDOM bytes
  Registers regs;                       // at the exec stop
  std::vector<MappingRecord> mappings;  // address space right after exec
  uint64_t stack_start = 0;             // initial stack contents [stack_start, stack end)
  std::vector<uint8_t> stack;
  // The thread that called execve when it was not the thread-group leader;
  // it takes over the leader's tid (the event's tid). 0 otherwise.
  int32_t former_tid = 0;
};

struct MmapEvent {
  MappingRecord mapping;
};

struct CloneEvent {
  enum Kind : uint8_t { kFork = 0, kVfork = 1, kThread = 2 };
  int32_t new_tid = 0;
  uint8_t kind = kFork;
  uint64_t flags = 0;
};

struct ExitEvent {
  int32_t wait_status = 0;  // as from waitpid
};

// Code that rr-like wrote into the tracee: vdso entry points rewritten into
// syscalls, syscall sites rewritten into jumps to the preload code, stubs.
// With restart_ip set, the task was stopped at the entry of syscall
// restart_nr, which the recorder cancelled: the task continues at restart_ip
// with rax = restart_nr (the patched site, which now makes that syscall
// through the preload code).
//
// A deferred patch (recorder/patching.cc) is written at a syscall exit,
// possibly another task's: `requested_by` is the task whose syscall asked for
// it, and `waits` how many syscall exits refused it first because a task was
// inside its region.
struct PatchEvent {
  std::string what;
  std::vector<MemWrite> writes;
  uint64_t restart_ip = 0;
  int64_t restart_nr = -1;
  bool deferred = false;
  int32_t requested_by = 0;
  uint32_t waits = 0;
};

// A syscall the preload code made without a ptrace stop, flushed from the
// syscall buffer. In replay it is the next syscall the task makes (from the
// preload code's untraced syscall instruction), emulated from this record.
//
// kAborted: the syscall blocked (or a signal came for it) and the recorder
// took it back (recorder/blocking.cc): it returns RRL_SYSCALL_ABORTED, wrote
// nothing, and the preload code makes it again through ptrace (the task's
// next event is that traced syscall).
struct BufferedSyscallEvent {
  static constexpr uint8_t kAborted = 0x80;
  int64_t syscallno = 0;
  std::array<uint64_t, 6> args{};
  int64_t result = 0;
  uint8_t flags = 0;  // SyscallEvent::kToStdout / kToStderr, kAborted
  std::vector<MemWrite> writes;
  bool aborted() const { return (flags & kAborted) != 0; }
};

// The recorder mapped the preload code (and its stub and buffer areas) into
// the task's new address space, right after an exec.
struct PreloadEvent {
  uint32_t version = 0;  // RRL_PRELOAD_VERSION of the recorder
  uint64_t code_addr = 0;
  std::vector<uint8_t> code;
  uint64_t code_size = 0;    // mapped size (read, execute)
  uint64_t stubs_size = 0;   // after the code (read, execute)
  uint64_t buffer_size = 0;  // after the stubs (read, write)
  uint64_t untraced_ip = 0;  // end of the untraced syscall instruction
};

// A task reached a syscall's entry here in the global order, but the syscall
// completed later (other tasks ran meanwhile). Written only when some other
// task's event falls between the entry and the exit, so that replay runs this
// task's user code up to the syscall before theirs.
struct SyscallEntryEvent {
  int64_t syscallno = 0;
};

// The recorder stopped a task that ran too long without any event, so that
// others could run (a time slice ended). `regs` is where it stopped.
struct SchedEvent {
  Registers regs;
  std::vector<MemWord> progress;  // memory that identifies this point (with regs)
  std::optional<uint64_t> branches;  // with a hardware counter: branches since the last progress event
};

using EventData =
    std::variant<SyscallEvent, SignalEvent, RdtscEvent, ExecEvent, MmapEvent, CloneEvent, ExitEvent,
                 PatchEvent, SyscallEntryEvent, SchedEvent, BufferedSyscallEvent, PreloadEvent>;

struct Event {
  uint64_t number = 0;
  int32_t tid = 0;
  EventData data;
};

const char* kind_name(const EventData& d);

void encode_event(const Event& ev, ByteWriter& w);

// A BufferedSyscallEvent encoded straight from its parts, without building
// the event (the recorder's syscall-buffer flushes write hundreds of
// thousands): the same bytes as encode_event of that event.
struct BufferedSyscallView {
  int64_t syscallno = 0;
  std::span<const uint64_t, 6> args;
  int64_t result = 0;
  uint8_t flags = 0;
  struct Write {
    uint64_t addr = 0;
    std::span<const uint8_t> data;
  };
  std::span<const Write> writes;
};
void encode_buffered(uint64_t number, int32_t tid, const BufferedSyscallView& e, ByteWriter& w);
Expected<Event> decode_event(std::span<const uint8_t> bytes);

}  // namespace rrl::trace
