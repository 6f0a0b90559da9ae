// The record session: every traced task, the scheduler that lets one of them
// run user code at a time, and the handlers that turn ptrace stops into events.
//
// Scheduling model. A task is in one of these states:
//   kReady     stopped at a ptrace stop that has been reported but not yet
//              handled; its stop becomes an event when the scheduler picks it;
//   kRunning   executing user code (at most one task at any time);
//   kInKernel  resumed inside a syscall; it may block there (read on a pipe,
//              futex, wait4, ...) for as long as it likes without stopping
//              anyone else, and reports again at the syscall's exit;
//   kGroupStop in a job-control stop (PTRACE_LISTEN), waiting for SIGCONT.
// The global event order is the order in which the scheduler handles stops.
// Because only one task runs user code at a time, each user-code interval of a
// task lies between two of its own events, which is what replay re-creates.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/proc_maps.h"
#include "common/registers.h"
#include "monkeypatch/branch_targets.h"
#include "monkeypatch/site.h"
#include "progress/progress_source.h"
#include "recorder/chaos.h"
#include "recorder/recorder.h"
#include "trace/events.h"
#include "trace/trace_writer.h"

namespace rrl::recorder {

enum class TaskState { kReady, kRunning, kInKernel, kGroupStop };

// A task runs user code at most this long while others are ready (session.cc).
constexpr int64_t kTimeSliceMs = 50;

// A patch whose region begins before its syscall, waiting until no task is
// inside the region (see monkeypatch/site.cc). It names its own site: a retry
// at any later syscall exit can only write this region.
// Which libc, ld.so or vdso a site is in: the file's device and inode
// ({0, 0} for the vdso), and its offset from the object's load bias.
using ObjectKey = std::pair<uint64_t, uint64_t>;
struct SiteOrigin {
  ObjectKey key;
  uint64_t offset = 0;
};

// The patchable object mapping a site, as found in /proc/PID/maps.
struct SiteObject {
  const MapEntry* map = nullptr;
  uint64_t bias = 0;  // its load address (of file offset 0)
  ObjectKey key;
};

// The patch of an object's known sites as planned for one process
// (patching.cc, apply_known_sites), kept to be written again in the next.
struct KnownSitesPatch {
  uint64_t bias = 0;        // where the object was loaded
  uint64_t stub_start = 0;  // and where its stubs began
  uint64_t stub_end = 0;
  size_t known_count = 0;  // of the object's known sites then
  std::vector<uint64_t> sites;
  std::vector<trace::MemWrite> writes;    // the stubs, then each jump
  std::vector<trace::MemWrite> original;  // the code under each jump before
};

struct PendingPatch {
  uint64_t site = 0;
  monkeypatch::SitePlan plan;
  uint64_t stub_addr = 0;
  pid_t requested_by = 0;  // whose syscall asked for it (for `rr-like dump`)
  uint32_t waits = 0;      // syscall exits that found a task inside
  std::optional<SiteOrigin> origin;
};

// Device and inode of rr-like's own stdout and stderr.
using StdFiles = std::array<std::pair<uint64_t, uint64_t>, 2>;
uint8_t std_file_flag(pid_t tid, uint64_t fd, const StdFiles& std_files);

// A read of a flushed half of the syscall buffer, done by the trace's thread
// while the program goes on (syscallbuf.cc). The half must stay as it is,
// and the address space alive, until it is done.
class BufferRead {
 public:
  void finish();
  void wait();
  bool done();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Memory for syscall-buffer records on their way into the trace: a flush
// takes a chunk, the trace's compressing thread gives it back once the
// records are encoded (syscallbuf.cc). Reused, because a fresh 2 MiB vector
// would be zeroed and page-faulted in again at every flush.
class RecordChunks {
 public:
  std::vector<uint8_t> take(size_t len);  // at least len bytes
  void give_back(std::vector<uint8_t> chunk);

 private:
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> free_;
};

// What the recorder knows of one address space (shared by its threads and by
// a vfork child; copied at fork; new at exec).
struct AddressSpace {
  bool preload = false;  // the preload code is mapped (syscallbuf.cc)
  // The part of the syscall buffer already in the trace: the buffer's epoch
  // and the offset up to which its records were flushed.
  uint64_t buffer_epoch = 0;
  uint64_t buffer_cursor = 0;
  uint64_t flushed_count = 0;                // records in the trace (the header's count then)
  std::shared_ptr<BufferRead> pending_read;  // of the half last flushed, if any
  uint64_t stub_next = 0;                    // next free byte of the stub area
  // kUnbuffered: its first syscall was one the preload code does not buffer;
  // planned when a buffered one traps there (its number is not a constant).
  enum class Site : uint8_t { kPatched, kRefused, kPending, kUnbuffered };
  std::map<uint64_t, Site> sites;  // by syscall instruction address
  std::vector<PendingPatch> pending;
};

struct Task {
  pid_t tid = 0;
  pid_t tgid = 0;
  TaskState state = TaskState::kReady;
  int pending_status = 0;   // wait status of the stop to handle, when kReady
  bool in_syscall = false;  // between a seccomp entry stop and the exit stop
  bool refused = false;     // the current syscall was cancelled by the recorder
  bool first_stop = true;   // auto-attached tasks start with a PTRACE_EVENT_STOP
  bool announced = false;   // its CloneEvent is in the trace (it may run only then)
  // vfork: the parent's return is recorded only after the child's exec or exit,
  // the order replay can reproduce (the real vfork waits for exactly that).
  pid_t vfork_child = 0;
  pid_t vfork_parent = 0;
  // Signals held back until a deterministic point (signals.cc).
  std::deque<siginfo_t> deferred;
  int delivering = 0;                               // re-sent with tgkill, delivery stop expected
  siginfo_t delivering_info{};                      // the original siginfo to deliver it with
  std::vector<trace::MemWord> delivering_progress;  // where it is delivered (progress.cc)
  bool delivering_arbitrary = false;                // ... at an arbitrary point
  std::optional<uint64_t> delivering_branches;      // ... and its branch count
  Registers boundary_regs;                          // registers at its last syscall exit
  // Where the signal handlers it runs return to (innermost last): pushed when
  // a caught signal is delivered, popped at rt_sigreturn. Deferred patching
  // counts these as places the task is (patching.cc).
  std::vector<uint64_t> handler_returns;
  bool exit_recorded = false;
  bool entry_marker_pending = false;  // see Session::record()
  bool interrupt_sent = false;
  int64_t interrupt_sent_us = 0;  // when (monotonic): see Session::enforce_time_slice()
  bool stepped = false;  // single-stepped by the recorder since its last syscall (progress.cc)
  bool trap_flag_risk = false;      // single-stepped since it last ran: see Session::resume()
  int64_t slice_ms = kTimeSliceMs;  // its time slice: shorter while it spin-waits (signals.cc)
  bool resume_pending = false;  // preempted: its stop is recorded, it only waits for its turn //
                                // PTRACE_INTERRUPT for a time slice is on its way
  int64_t entry_nr = -1;
  std::array<uint64_t, 6> entry_args{};
  Registers entry_regs;
  std::shared_ptr<AddressSpace> as;
};

// The pages one iteration of a probed loop may write (progress.cc).
struct TouchedPages {
  std::set<uint64_t> pages;
  bool unknown = false;  // an address could not be worked out: compare everything
};

class Session {
 public:
  // `chaos_seed`: chaos mode with that seed (chaos.h).
  Session(trace::TraceWriter& writer, pid_t initial, bool syscall_buffer,
          std::unique_ptr<progress::Source> progress, std::optional<uint64_t> chaos_seed);
  // Runs until every task has exited, or the user interrupts, or writing fails.
  Status run();
  // Kills every tracee and reaps it (used on interruption and on errors).
  void kill_all();
  // The exit status of the initial process, shell style; -1 if unknown.
  int exit_status() const { return exit_status_; }
  uint64_t events() const { return next_event_; }

 private:
  // Identifying arbitrary points (progress.cc).
  // `spinning`: the task loops without writing memory (waiting for another);
  // `at_syscall`: it stopped right before a syscall instruction.
  Expected<std::vector<trace::MemWord>> probe_progress(Task& t, bool* spinning, bool* at_syscall);
  std::optional<uint64_t> branch_count(const Task& t);
  Expected<bool> step_around(Task& t, uint64_t anchor, TouchedPages* touched = nullptr);
  Expected<bool> step_once(Task& t);
  Expected<bool> resume_to_trap(Task& t, bool step);
  Status leave_rep_string(Task& t);
  Expected<std::vector<trace::MemWord>> stopped_early(Task& t, bool* at_syscall);
  Status step_to_anchor(Task& t);

  // Scheduling (session.cc).
  Status wait_for_stop(bool block);
  Task* pick_ready();
  bool eligible(pid_t tid) const;
  bool give_way(Task& t);
  Status handle_stop(Task& t);
  Status handle_exited(pid_t tid, int status);
  Status resume(Task& t, bool to_syscall_exit, int sig = 0);
  Task& add_task(pid_t tid, pid_t tgid);
  void release_vfork_parent(Task& child);
  Status record(pid_t tid, trace::EventData data);
  Status write_event(pid_t tid, trace::EventData data);
  Status write_entry_markers(pid_t tid);
  Status record_buffered_view(pid_t tid, const trace::BufferedSyscallView& e);
  Status flush_now_and_then();
  void enforce_time_slice();
  bool keep_exclusive();
  void set_alarm(int64_t deadline_us);

  // Syscalls (syscall_stops.cc).
  Status on_syscall_entry(Task& t);
  Status on_syscall_exit(Task& t);
  Status capture_outputs(Task& t, trace::SyscallEvent& ev);
  Status record_new_mapping(Task& t, const trace::SyscallEvent& ev);
  Status emulate_vsyscall(Task& t, Registers& regs, int64_t nr);
  uint8_t output_echo_flags(const Task& t, const trace::SyscallEvent& ev) const;
  uint8_t std_file_flag(const Task& t, uint64_t fd) const;
  void capture_kernel_output(const Task& t, trace::SyscallEvent& ev) const;
  Status capture_shared_mappings(const Task& t, trace::SyscallEvent& ev);
  Status capture_shared_mappings(const Task& t, int64_t nr, uint64_t fd, int64_t result,
                                 std::vector<trace::MemWrite>& writes);

  // Events other than syscalls (task_events.cc).
  Status on_ptrace_event(Task& t, int event);
  Status on_exec(Task& t);
  Status on_signal(Task& t, int sig);
  Status on_preempted(Task& t);
  Status redeliver_deferred(Task& t);
  Status finish_exit(Task& t);
  Expected<bool> try_emulate_rdtsc(Task& t);
  Status patch_vdso(Task& t, std::span<const uint8_t> auxv, const std::vector<MapEntry>& maps);

  // Buffered syscalls that block (blocking.cc).
  void start_block_polling(int64_t now_us);
  void poll_block_now(int64_t now_us);
  bool blocked_in_untraced(const Task& t, int64_t now_us);
  enum class TakeBack { kNo, kAborted, kAbortedDropSignal };
  Expected<TakeBack> take_back_untraced(Task& t, int sig);
  Status abort_untraced(Task& t, Registers& regs, int64_t nr);

  // Syscall buffering (syscallbuf.cc).
  Status inject_preload(Task& t);
  Expected<int64_t> inject_syscall(Task& t, uint64_t insn, int64_t nr,
                                   std::initializer_list<uint64_t> args);
  Status flush_buffer(Task& t);
  Status bump_fd_generation(Task& t, trace::SyscallEvent& ev);
  Status record_buffered(Task& t, std::vector<uint8_t> chunk, size_t len);
  Status record_buffered_later(Task& t, uint64_t from, size_t len, uint64_t count);
  void await_buffer_read(Task& t, bool always);
  Expected<bool> step_out_of_preload(Task& t);
  Expected<bool> run_to_preload_exit(Task& t);

  // Monkeypatching syscall sites (patching.cc).
  Expected<bool> patch_at_entry(Task& t, Registers& regs);
  Expected<bool> patch_pending_at_entry(Task& t, Registers& regs, uint64_t site);
  Status cancel_and_restart(Task& t, Registers& regs, uint64_t ip, int64_t nr);
  static std::optional<SiteObject> site_object(const std::vector<MapEntry>& maps, uint64_t site);
  Expected<std::optional<monkeypatch::SitePlan>> plan_site(Task& t, const SiteObject& o,
                                                           uint64_t site, uint64_t stub_addr);
  void learn_site(const std::optional<SiteOrigin>& origin, int64_t nr);
  Status apply_known_sites(Task& t, const MapEntry* mapped);
  Expected<KnownSitesPatch> plan_known_sites(Task& t, const SiteObject& object,
                                             const std::map<uint64_t, int64_t>& known,
                                             std::span<const monkeypatch::TaskSpot> spots,
                                             uint64_t stub);
  bool known_sites_patch_fits(Task& t, const KnownSitesPatch& cached, const SiteObject& object,
                              size_t known_count, std::span<const monkeypatch::TaskSpot> spots,
                              uint64_t stub);
  Status write_patch(Task& t, const monkeypatch::SitePlan& plan, uint64_t stub_addr, uint64_t site,
                     uint64_t restart_ip, int64_t restart_nr,
                     const PendingPatch* deferred = nullptr);
  Status retry_pending_patches(Task& t);
  std::optional<std::vector<monkeypatch::TaskSpot>> other_task_spots(const Task& t);
  Expected<const monkeypatch::FunctionIndex*> function_index(const std::string& path);

  trace::TraceWriter& writer_;
  pid_t initial_;
  bool syscall_buffer_ = false;
  std::shared_ptr<RecordChunks> record_chunks_ = std::make_shared<RecordChunks>();
  // Libraries being patched, by path.
  std::map<std::string, std::unique_ptr<monkeypatch::FunctionIndex>> function_indexes_;
  // Sites patched so far in any process: syscall number by offset, by object.
  std::map<ObjectKey, std::map<uint64_t, int64_t>> known_sites_;
  std::map<ObjectKey, KnownSitesPatch> known_patches_;  // the last one planned, by object
  std::map<pid_t, std::unique_ptr<Task>> tasks_;
  std::deque<pid_t> ready_;
  Task* running_ = nullptr;
  // A task in the kernel for a syscall that replay runs for real
  // (syscalls::replay_runs): nobody else runs until it stops again.
  Task* exclusive_ = nullptr;
  int64_t exclusive_since_us_ = 0;
  uint64_t next_event_ = 0;
  int exit_status_ = -1;
  std::set<int64_t> warned_unknown_;
  std::deque<pid_t> pending_entries_;  // tasks whose syscall entry has no event yet
  std::set<pid_t> shared_file_maps_;   // processes with a MAP_SHARED file mapping
  int64_t running_since_us_ = 0;
  int64_t running_slice_ms_ = kTimeSliceMs;  // the running task's current slice
  pid_t urgent_ = 0;                         // its stop ended a stretch of user code: handled first
  std::optional<Chaos> chaos_;
  std::unique_ptr<progress::Source> progress_;  // branch counts, where there is a counter
  int64_t alarm_deadline_us_ = 0;               // when SIGALRM is due, 0 when not armed
  // Polling the running task for a block in a buffered syscall (blocking.cc).
  int64_t next_block_check_us_ = 0;
  int64_t block_check_gap_us_ = 0;
  int64_t last_flush_ms_ = 0;
  // Identity (st_dev, st_ino) of rr-like's own stdout and stderr, to mark the
  // writes that replay must show again.
  StdFiles std_files_{};
};

// CLOCK_MONOTONIC in microseconds.
int64_t monotonic_us();

// Clears the trap flag that single-stepping may have left in the task's own
// flags (syscallbuf.cc).
Status clear_trap_flag(pid_t tid);

// Set by rr-like's SIGINT/SIGTERM/SIGHUP handler.
bool interrupted();
// Whether the time-slice SIGALRM fired since the last call.
bool take_alarm();

}  // namespace rrl::recorder
