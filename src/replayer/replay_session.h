// The replay session: one replayed task per recorded task, driven through the
// trace one event at a time.
//
// Replay re-executes the program's own instructions; only the kernel is
// replaced. Each event names a task; that task (and only it) is resumed until
// it reaches the point the event describes, where the recorded effect is
// applied:
//   - most syscalls are emulated: the task stops at the syscall's entry
//     (PTRACE_SYSEMU), and the recorded registers and memory writes become its
//     result;
//   - syscalls that shape the address space or the task tree (mmap, brk,
//     mprotect, clone, execve, exit, signal handling set-up) run for real, and
//     their result must equal the recorded one;
//   - signals are injected where they were delivered, with the recorded siginfo;
//   - rdtsc traps (PR_SET_TSC) and is answered from the trace.
// Every stop is checked against the recording (syscall number, registers); a
// mismatch is a divergence and ends the replay with an error.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/error.h"
#include "common/registers.h"
#include "monkeypatch/relocate.h"
#include "progress/progress_source.h"
#include "replayer/breakpoints.h"
#include "replayer/debug_hooks.h"
#include "replayer/exec_link.h"
#include "trace/events.h"
#include "trace/trace_reader.h"

namespace rrl::replayer {

struct ReplayTask {
  pid_t rec_tid = 0;                // tid in the recording
  pid_t rec_tgid = 0;               // its process in the recording
  pid_t tid = 0;                    // tid in this replay
  pid_t tgid = 0;                   // real thread-group id in this replay
  bool at_entry = false;            // stopped at a syscall entry, not yet emulated or run
  bool at_real_entry = false;       // ... an ordinary entry stop: resuming runs the call
  bool at_event_stop = false;       // at a clone/exec ptrace stop inside a real syscall
  bool first_stop_pending = false;  // a new task whose start stop is not collected
  bool exited = false;
  int pending_sig = 0;         // signal to deliver at the next resume
  int64_t restart_result = 0;  // emulated -ERESTART* result to turn into a restart
  int expected_signal = 0;     // a recorded signal replay is about to deliver
  int signal_sent = 0;         // the next SignalEvent's signal is already queued (see on_syscall)
  // Debugger support (debug_support.cc).
  bool last_resume_sysemu = false;    // the last resume was PTRACE_SYSEMU(_SINGLESTEP)
  bool stepped_into_syscall = false;  // a debugger's single-step ended at a syscall
  bool hit_internal = false;          // run_task returned at replay's own breakpoint
  bool debug_break = false;           // the debugger asked run_task to return (on_stop)
};

struct Checkpoint;

class ReplaySession {
 public:
  // `shared_files`: saved files that some mapping maps MAP_SHARED (see map_file).
  ReplaySession(trace::TraceReader reader, std::set<std::string> shared_files);
  ~ReplaySession();
  Status run();
  // Runs the next event; false at the end of the trace.
  Expected<bool> step_event();

  // Checkpoints (checkpoint.cc). Between events only: a frozen copy of every
  // replayed process, or nullptr when this point cannot be copied (a
  // process with several threads, a task inside a syscall).
  Expected<std::shared_ptr<Checkpoint>> checkpoint();
  // A new replay session that starts where `cp` was taken.
  static Expected<std::unique_ptr<ReplaySession>> restore(const Checkpoint& cp);
  int exit_status() const { return reader_.header().exit_status; }

  // Debugger support (debug_support.cc): see debug_hooks.h. `rec_pid` is the
  // recorded process whose address space gets breakpoints.
  void attach_debugger(DebugHooks* hooks, pid_t rec_pid);
  pid_t debugged_pid() const { return debug_pid_; }
  bool is_debugged(const ReplayTask& t) const {
    return hooks_ != nullptr && t.rec_tgid == debug_pid_ && !t.exited;
  }
  Status add_breakpoint(uint64_t addr);
  Status remove_breakpoint(uint64_t addr);
  WatchpointTable& watchpoints() { return watch_; }
  // Live tasks of the debugged process, by recorded tid.
  std::vector<ReplayTask*> debugged_tasks();
  ReplayTask* find_task(pid_t rec_tid);
  // The debugged process's memory as the program sees it (no breakpoints);
  // shorter than `len` where unreadable.
  std::vector<uint8_t> read_debug_memory(uint64_t addr, size_t len);
  // The number of the event being run or about to run.
  uint64_t current_event() const { return current_event_; }
  // Runs the task of `ev` until it is in state `want` (see replay_sched.cc).
  Status run_to_state(const trace::Event& ev, const Registers& want);
  // One instruction of the task of `ev`, before the event runs: true for a
  // plain step; false when it reached a syscall (left for the event to replay).
  Expected<bool> single_step(const trace::Event& ev);
  Expected<Registers> task_registers(const ReplayTask& t) const;
  // Runs the task of `ev` (before the event runs) to its next arrival at
  // `addr`, or until the debugger sets `debug_break` in on_stop (addr 0).
  Status run_to(const trace::Event& ev, uint64_t addr);
  // The trace's copy of the program a recorded process runs.
  std::string exe_file(pid_t rec_pid) const {
    auto it = exe_files_.find(rec_pid);
    return it == exe_files_.end() ? std::string() : it->second;
  }
  // Whether the program's output is written again (not while a debugger
  // re-runs the replay to go back in time).
  void set_echo(bool echo) { echo_ = echo; }

 private:
  Expected<std::optional<trace::Event>> next_event();
  Expected<const trace::Event*> peek_event();  // nullptr at the end
  Status take_signal_with_mask(ReplayTask& t, const trace::SyscallEvent& sc, Registers& regs);
  Status dispatch(const trace::Event& ev);
  Error divergence(const trace::Event& ev, const std::string& what) const;
  Status check_stop_request(const char* where) const;

  // Tasks and stops (replay_session.cc).
  Expected<ReplayTask*> task_for(const trace::Event& ev);
  Expected<int> wait_stop(ReplayTask& t);
  Status collect_first_stop(ReplayTask& t);
  enum class Resume { kSysemu, kSyscall, kCont };
  Status resume(ReplayTask& t, Resume how, int sig, bool step = false);
  Expected<int> run_task(ReplayTask& t, Resume how, int sig, uint64_t internal_bp = 0,
                         bool force_step = false);
  Expected<bool> handle_trap(ReplayTask& t, bool stepping, bool user_step, uint64_t internal_bp);
  // Watchpoints (watch_pages.cc).
  Expected<uint64_t> find_syscall_insn(ReplayTask& t);
  Expected<int64_t> inject_anywhere(ReplayTask& t, int64_t nr,
                                    std::initializer_list<uint64_t> args);
  Status set_page_prot(ReplayTask& t, uint64_t page, int prot);
  Status sync_watch_pages(ReplayTask& t);
  Expected<std::optional<const Watchpoint*>> take_watch_fault(ReplayTask& t);
  Expected<pid_t> fork_copy(ReplayTask& t);
  Expected<pid_t> fork_clean_copy(ReplayTask& t);
  Status report(ReplayTask& t, const DebugStop& stop);
  Expected<int> advance(ReplayTask& t, bool sysemu = true);
  bool is_stray_signal(const ReplayTask& t, int status) const;
  Expected<int> wait_filtered(ReplayTask& t, Resume how, bool step = false);
  Expected<int> advance_to_entry(ReplayTask& t, bool for_real);
  Expected<Registers> advance_to_syscall(ReplayTask& t, const trace::Event& ev, int64_t nr,
                                         bool for_real = false);
  Expected<Registers> advance_to_one_of(ReplayTask& t, const trace::Event& ev,
                                        std::initializer_list<int64_t> nrs, const char* what,
                                        bool for_real = false);
  Status skip_real_entry(ReplayTask& t);
  Expected<int> run_for_real(ReplayTask& t, Registers& entry_regs, bool from_sysemu_stop = true,
                             bool wait_last = true);
  Status await_exec(ReplayTask& t, const trace::Event& ev);
  void kill_all();

  // Events (replay_syscalls.cc, replay_events.cc).
  Status on_syscall(const trace::Event& ev, const trace::SyscallEvent& sc);
  Status on_syscall_entry(const trace::Event& ev, const trace::SyscallEntryEvent& se);
  Status execute_syscall(ReplayTask& t, const trace::Event& ev, const trace::SyscallEvent& sc,
                         Registers& regs);
  Status map_file(ReplayTask& t, const trace::Event& ev, const trace::SyscallEvent& sc,
                  Registers& regs);
  Status map_shared_file(ReplayTask& t, const trace::Event& ev, const trace::SyscallEvent& sc,
                         Registers& regs, const trace::MappingRecord& mapping);
  Expected<int64_t> inject_syscall(ReplayTask& t, const Registers& at, int64_t nr,
                                   std::initializer_list<uint64_t> args, bool from_sysemu_stop);
  Expected<std::string> scratch_copy(const std::string& trace_file);
  void echo_output(ReplayTask& t, const trace::SyscallEvent& sc);
  Status on_exec(const trace::Event& ev, const trace::ExecEvent& ex);
  Status start_initial(const trace::Event& ev, const trace::ExecEvent& ex);
  Status apply_exec_state(ReplayTask& t, const trace::Event& ev, const trace::ExecEvent& ex,
                          const std::optional<InterpPatch>& patch);
  Expected<std::string> exec_link(const trace::ExecEvent& ex, std::optional<InterpPatch>* patch);
  Status on_clone(const trace::Event& ev, const trace::CloneEvent& ce);
  Status on_exit(const trace::Event& ev, const trace::ExitEvent& ee);
  Status on_signal(const trace::Event& ev, const trace::SignalEvent& se);
  Status on_rdtsc(const trace::Event& ev, const trace::RdtscEvent& re);
  Status on_patch(const trace::Event& ev, const trace::PatchEvent& pe);
  Status on_sched(const trace::Event& ev, const trace::SchedEvent& se);
  // Syscall buffering (replay_buffered.cc).
  Status on_preload(const trace::Event& ev, const trace::PreloadEvent& pe);
  Status on_buffered(const trace::Event& ev, const trace::BufferedSyscallEvent& be);
  Status reach_state(ReplayTask& t, const trace::Event& ev, const Registers& want,
                     const std::vector<trace::MemWord>& words = {},
                     std::optional<uint64_t> branches = std::nullopt);
  Expected<bool> skip_ahead(ReplayTask& t, const trace::Event& ev, uint64_t branches);
  void follow_progress(const ReplayTask& t, uint64_t start = 0);
  Expected<bool> words_match(ReplayTask& t, const std::vector<trace::MemWord>& words);
  Expected<bool> reach_state_in_process(ReplayTask& t, const Registers& want,
                                        const std::vector<trace::MemWord>& words);
  Expected<monkeypatch::PatchRegion> region_at(ReplayTask& t, uint64_t ip);
  Expected<uint64_t> map_stub_page(ReplayTask& t, uint64_t near);
  Status write_all(ReplayTask& t, const std::vector<trace::MemWrite>& writes);

  trace::TraceReader reader_;
  std::optional<trace::Event> lookahead_;
  std::map<pid_t, std::unique_ptr<ReplayTask>> tasks_;  // by recorded tid
  // Branch counts: used when the trace has them and this machine counts too.
  std::unique_ptr<progress::Source> progress_;
  std::shared_ptr<ExecLinks> exec_links_ = std::make_shared<ExecLinks>();
  uint64_t current_event_ = 0;  // for messages
  pid_t current_tid_ = 0;
  std::set<std::string> shared_files_;
  std::set<std::string> scratch_made_;
  DebugHooks* hooks_ = nullptr;
  bool echo_ = true;
  std::map<pid_t, std::string> exe_files_;  // by recorded pid
  // File mappings with a saved copy, by recorded pid, newest last (they
  // may overlap older ones): where replay finds the code around an address.
  std::map<pid_t, std::vector<trace::MappingRecord>> file_maps_;
  pid_t debug_pid_ = 0;
  BreakpointTable user_bps_;      // the debugger's, in the debugged process
  BreakpointTable internal_bps_;  // replay's own, for one search at a time
  WatchpointTable watch_;
  struct WatchedPage {
    int original = 0, applied = 0;  // PROT_* bits
  };
  std::map<uint64_t, WatchedPage> watched_pages_;
  uint64_t pages_generation_ = 0;  // the watch_ generation the pages match
  uint64_t syscall_insn_ = 0;
  uint64_t untraced_ip_ = 0;  // the preload code's untraced syscall (PreloadEvent)
};

struct Checkpoint {
  struct Frozen {
    ReplayTask task;  // as it was; tid is the frozen copy's
    Registers regs;
    uint64_t branches = 0;  // its branch count (progress_source.h), 0 when none
  };
  uint64_t event = 0;  // the next event to run
  std::vector<Frozen> live;
  std::vector<ReplayTask> gone;  // tasks that had exited
  std::shared_ptr<ExecLinks> links;
  std::map<pid_t, std::string> exe_files;
  std::map<pid_t, std::vector<trace::MappingRecord>> file_maps;
  uint64_t untraced_ip = 0;
  std::set<std::string> shared_files;
  std::string trace_dir;
  Checkpoint() = default;
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;
  ~Checkpoint();  // the frozen copies die with it
};

// The recorded registers that a syscall leaves alone, compared at every entry:
// rip, rsp and the first `nargs` argument registers.
std::optional<std::string> compare_regs(const Registers& expected, const Registers& actual,
                                        int nargs = 6);
// Whether two register states are the same point of a task's execution.
bool same_state(const Registers& a, const Registers& b);
// How many arguments a syscall takes (6 when not known).
int syscall_arg_count(int64_t nr);

}  // namespace rrl::replayer
