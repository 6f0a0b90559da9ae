// The recorder's half of syscall buffering: mapping the preload code into each
// new address space, flushing the buffer into the trace, and keeping tasks
// from stopping inside the preload code.
//
// Injection. Right after a successful execve (at its exit stop), the recorder
// makes the new program run two mmaps of its own (from a `syscall; ret` of
// the rewritten vdso) for the code + stub area and the buffer, at the fixed
// addresses of preload_interface.h, and copies the code in. A PreloadEvent
// carries the code, so replay maps exactly what ran here.
//
// Flushing. The buffer is written only by the preload code (see
// preload_interface.h); the recorder remembers, per address space, the epoch
// and the offset up to which it has read. At every stop of a task, before
// anything else is recorded, the new records become BufferedSyscallEvents:
// since only one task runs user code at a time, they are that task's, and
// they happened after everything already in the trace.
//
// Never stop inside. The buffer has no per-thread parts, so a task must not
// be held inside the preload code while another one runs, nor get a signal
// there (its handler might enter the preload code again). Syscall stops there
// are harmless (a stub's traced syscall holds no buffer state); a time
// slice that ends inside is extended by single-stepping the task out.
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/ptrace.h"
#include "preload/blob.h"
#include "recorder/session.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("syscallbuf");

constexpr int kMaxInjectStops = 6;
// Steps out of the preload code, where the long paths (copying a record's
// output) are run through to a breakpoint instead (run_to_preload_exit).
constexpr int kMaxStepsOut = 100000;

// Syscalls after which an fd number may name another file.
bool may_replace_fd(int64_t nr) {
  return nr == SYS_close || nr == SYS_close_range || nr == SYS_dup2 || nr == SYS_dup3;
}

bool is_write_syscall(int64_t nr) {
  return nr == SYS_write || nr == SYS_pwrite64 || nr == SYS_writev;
}

}  // namespace

// Runs syscall nr in the stopped task from the syscall instruction at insn
// and puts its registers back. The task must be at a syscall-exit stop or a
// ptrace event stop (where resuming runs user code).
Expected<int64_t> Session::inject_syscall(Task& t, uint64_t insn, int64_t nr,
                                          std::initializer_list<uint64_t> args) {
  auto saved = ptrace::get_regs(t.tid);
  if (!saved) return std::unexpected(saved.error());
  Registers regs = *saved;
  regs.set_ip(insn);
  regs.r.rax = regs.r.orig_rax = static_cast<uint64_t>(nr);
  unsigned long long* slots[] = {&regs.r.rdi, &regs.r.rsi, &regs.r.rdx,
                                 &regs.r.r10, &regs.r.r8,  &regs.r.r9};
  size_t i = 0;
  for (uint64_t a : args) *slots[i++] = a;
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  // The seccomp filter stops every syscall but the preload code's untraced
  // one: resumed without PTRACE_SYSCALL, the task stops at its seccomp stop
  // and not also at a syscall-entry stop before it.
  bool filtered = syscall_buffer_ && insn + 2 != preload::untraced_end_address();
  for (int stops = 0; stops < kMaxInjectStops; ++stops) {
    RRL_TRY(stops == 0 && filtered ? ptrace::cont(t.tid) : ptrace::syscall(t.tid));
    auto waited = ptrace::wait_status(t.tid, "during an injected syscall");
    if (!waited) return std::unexpected(waited.error());
    int status = *waited;
    if (!WIFSTOPPED(status)) return fail("the task died during an injected syscall");
    int sig = WSTOPSIG(status);
    if (sig != (SIGTRAP | 0x80) && (status >> 16) != PTRACE_EVENT_SECCOMP) {
      // A signal arrived meanwhile: keep it for later, like any held-back one.
      if (auto si = ptrace::get_siginfo(t.tid)) t.deferred.push_back(*si);
      continue;
    }
    auto now = ptrace::get_regs(t.tid);
    if (!now) return std::unexpected(now.error());
    auto is_exit = ptrace::syscall_stop_is_exit(t.tid);
    if (!is_exit) return std::unexpected(is_exit.error());
    if (*is_exit && now->ip() == insn + 2) {
      RRL_TRY(ptrace::set_regs(t.tid, *saved));
      return now->result();
    }
  }
  return fail(fmt::format("injected syscall {} did not complete", nr));
}

// At the exit stop of a successful execve.
Status Session::inject_preload(Task& t) {
  t.as = std::make_shared<AddressSpace>();
  if (!syscall_buffer_) return {};
  uint64_t insn = 0;
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (const auto& m : *maps) {
    if (m.path != "[vdso]") continue;
    std::vector<uint8_t> code(m.end - m.start);
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(m.start), code));
    for (size_t i = 0; i + 2 < code.size() && !insn; ++i)
      if (code[i] == 0x0f && code[i + 1] == 0x05 && code[i + 2] == 0xc3) insn = m.start + i;
  }
  if (!insn) {
    kLog.info(t.tid, "no vdso syscall instruction: recording without the syscall buffer");
    return {};
  }
  const uint64_t flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
  auto code_map = inject_syscall(t, insn, SYS_mmap,
                                 {preload::kBase, preload::kCodeSize + preload::kStubsSize,
                                  PROT_READ | PROT_EXEC, flags, static_cast<uint64_t>(-1), 0});
  if (!code_map) return std::unexpected(code_map.error());
  auto buffer_map = inject_syscall(t, insn, SYS_mmap,
                                   {preload::kBufferAddr, preload::kBufferSize,
                                    PROT_READ | PROT_WRITE, flags, static_cast<uint64_t>(-1), 0});
  if (!buffer_map) return std::unexpected(buffer_map.error());
  if (static_cast<uint64_t>(*code_map) != preload::kBase ||
      static_cast<uint64_t>(*buffer_map) != preload::kBufferAddr) {
    kLog.info(t.tid, "preload area is taken ({:#x}, {:#x}): no syscall buffer", *code_map,
              *buffer_map);
    return {};
  }
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(preload::kBase), preload::code()));
  t.as->preload = true;
  t.as->stub_next = preload::kStubsAddr;
  trace::PreloadEvent ev;
  ev.version = preload::kVersion;
  ev.code_addr = preload::kBase;
  ev.code.assign(preload::code().begin(), preload::code().end());
  ev.code_size = preload::kCodeSize;
  ev.stubs_size = preload::kStubsSize;
  ev.buffer_size = preload::kBufferSize;
  ev.untraced_ip = preload::untraced_end_address();
  return record(t.tid, std::move(ev));
}

std::vector<uint8_t> RecordChunks::take(size_t len) {
  std::vector<uint8_t> chunk;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      chunk = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (chunk.size() < len) chunk.resize(len);
  return chunk;
}

void RecordChunks::give_back(std::vector<uint8_t> chunk) {
  constexpr size_t kKeep = 4;
  std::lock_guard lock(mu_);
  if (free_.size() < kKeep) free_.push_back(std::move(chunk));
}

void BufferRead::finish() {
  std::lock_guard lock(mu_);
  done_ = true;
  cv_.notify_all();
}

void BufferRead::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_; });
}

bool BufferRead::done() {
  std::lock_guard lock(mu_);
  return done_;
}

Status Session::flush_buffer(Task& t) {
  if (!t.as || !t.as->preload) return {};
  rrl_buffer_header header{};
  std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(&header), sizeof header);
  // Unreadable: the task is gone, or at an exec stop (a new address space).
  if (!ptrace::read_memory(t.tid, RemoteAddr(preload::kBufferAddr), raw)) return {};
  AddressSpace& as = *t.as;
  if (header.epoch != as.buffer_epoch) {
    as.buffer_epoch = header.epoch;
    as.buffer_cursor = 0;
  }
  if (header.pos <= as.buffer_cursor || header.half > RRL_HALF_SIZE) return {};
  const size_t len = header.pos - as.buffer_cursor;
  const uint64_t from = preload::kBufferAddr + sizeof header + header.half + as.buffer_cursor;
  const uint64_t count = header.count - as.flushed_count;
  as.buffer_cursor = header.pos;
  as.flushed_count = header.count;
  // A full half (the program stopped because a record did not fit): the
  // program moves on to the other half, so this one can be read while it
  // runs. The other half must have been read by then.
  if (header.wrap_pending && !shared_file_maps_.contains(t.tgid)) {
    await_buffer_read(t, /*always=*/true);
    return record_buffered_later(t, from, len, count);
  }
  std::vector<uint8_t> chunk = record_chunks_->take(len);
  RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(from), std::span(chunk).first(len)));
  return record_buffered(t, std::move(chunk), len);
}

// A half being read must outlive the read: wait for it before a stop after
// which the address space may go (exec, exit, a fatal signal), the half
// be written again (the next full half), or an fd name another file (close,
// dup2: the read looks at the fds). Syscall stops otherwise need not.
void Session::await_buffer_read(Task& t, bool always) {
  if (!t.as || !t.as->pending_read) return;
  BufferRead& read = *t.as->pending_read;
  if (!always && !read.done()) {
    const int status = t.pending_status;
    const int event = status >> 16;
    const bool syscall_stop = WSTOPSIG(status) == (SIGTRAP | 0x80) || event == PTRACE_EVENT_SECCOMP;
    if (syscall_stop) {
      auto regs = ptrace::get_regs(t.tid);
      const int64_t nr = regs ? static_cast<int64_t>(regs->r.orig_rax) : -1;
      // Nor one that may make an fd name another file: the read works out
      // which writes went to rr-like's stdout by looking at the fds then.
      if (nr != SYS_execve && nr != SYS_execveat && nr != SYS_exit && nr != SYS_exit_group &&
          nr != -1 && !may_replace_fd(nr))
        return;
    }
  }
  read.wait();
  t.as->pending_read.reset();
}

// The preload code's cache of regular fds is void once an fd may name another
// file: the new generation is a memory write of this syscall, for replay.
Status Session::bump_fd_generation(Task& t, trace::SyscallEvent& ev) {
  if (!t.as || !t.as->preload || !may_replace_fd(ev.syscallno)) return {};
  const uint64_t addr = preload::kBufferAddr + offsetof(rrl_buffer_header, fd_generation);
  uint64_t generation = 0;
  std::span<uint8_t> raw(reinterpret_cast<uint8_t*>(&generation), sizeof generation);
  if (!ptrace::read_memory(t.tid, RemoteAddr(addr), raw)) return {};
  ++generation;
  RRL_TRY(ptrace::write_memory(t.tid, RemoteAddr(addr), raw));
  ev.writes.push_back({addr, std::vector<uint8_t>(raw.begin(), raw.end())});
  return {};
}

namespace {

// One record of the buffer, with views of what it wrote.
struct ParsedRecord {
  rrl_record rec;
  trace::BufferedSyscallView::Write writes[RRL_OUT_AREAS];
  size_t nwrites = 0;
  trace::BufferedSyscallView view(uint8_t flags) const {
    return {rec.syscallno,
            std::span<const uint64_t, 6>(rec.args, 6),
            rec.result,
            flags,
            {writes, nwrites}};
  }
};

// The record at pos, which the caller has checked with record_fits().
ParsedRecord parse_record(std::span<const uint8_t> records, size_t pos) {
  ParsedRecord p;
  std::memcpy(&p.rec, records.data() + pos, sizeof p.rec);
  size_t data_pos = pos + sizeof p.rec;
  for (int i = 0; i < RRL_OUT_AREAS; ++i) {
    if (p.rec.out_len[i] == 0) continue;
    p.writes[p.nwrites++] = {p.rec.out_addr[i], records.subspan(data_pos, p.rec.out_len[i])};
    data_pos += p.rec.out_len[i];
  }
  return p;
}

// Whether the record at pos lies inside `records` with all its data: the
// buffer is the program's memory, and the program may have scribbled on it.
bool record_fits(std::span<const uint8_t> records, size_t pos) {
  if (pos + sizeof(rrl_record) > records.size()) return false;
  rrl_record rec;
  std::memcpy(&rec, records.data() + pos, sizeof rec);
  uint64_t out_total = 0;
  for (uint64_t len : rec.out_len) out_total += std::min<uint64_t>(len, records.size());
  return rec.size >= sizeof rec && rec.size <= records.size() - pos &&
         out_total <= rec.size - sizeof rec;
}

// Checks every record and works out its echo flag: whether a write went to
// rr-like's stdout or stderr, looked up once per fd, as the fd is at the
// flush (a buffered close and openat in between can fool it; only whether
// replay echoes the bytes depends on it). `wrote`: some record wrote data.
Expected<std::vector<uint8_t>> check_records(std::span<const uint8_t> records, pid_t tid,
                                             const StdFiles& std_files, bool& wrote) {
  std::map<uint64_t, uint8_t> std_flags;
  std::vector<uint8_t> flags;
  wrote = false;
  size_t pos = 0;
  while (pos + sizeof(rrl_record) <= records.size()) {
    if (!record_fits(records, pos))
      return fail(fmt::format("corrupt syscall buffer record at offset {} of task {}", pos, tid));
    rrl_record rec;
    std::memcpy(&rec, records.data() + pos, sizeof rec);
    uint8_t flag = 0;
    if (is_write_syscall(rec.syscallno) && rec.result > 0) {
      auto known = std_flags.find(rec.args[0]);
      if (known == std_flags.end())
        known = std_flags.emplace(rec.args[0], std_file_flag(tid, rec.args[0], std_files)).first;
      flag = known->second;
      wrote = true;
    }
    flags.push_back(flag);
    pos += rec.size;
  }
  return flags;
}

// Hands each checked record, with its flag, to `emit`.
void emit_records(std::span<const uint8_t> records, std::span<const uint8_t> flags,
                  const trace::TraceWriter::BufferedEmit& emit) {
  size_t pos = 0;
  for (uint8_t flag : flags) {
    ParsedRecord p = parse_record(records, pos);
    pos += p.rec.size;
    emit(p.view(flag));
  }
}

}  // namespace

// The records become BufferedSyscallEvents. Everything that needs the task
// (which fds are rr-like's stdout or stderr; a file the process maps shared)
// is worked out now, while it is stopped; the encoding itself is left to the
// trace's compressing thread, so the task need not wait for it.
Status Session::record_buffered(Task& t, std::vector<uint8_t> chunk, size_t len) {
  std::span<const uint8_t> records(chunk.data(), len);
  bool wrote = false;
  auto checked = check_records(records, t.tid, std_files_, wrote);
  if (!checked) return std::unexpected(checked.error());
  std::vector<uint8_t> flags = std::move(*checked);
  const bool wrote_shared = wrote && shared_file_maps_.contains(t.tgid);
  if (flags.empty()) {
    record_chunks_->give_back(std::move(chunk));
    return {};
  }
  RRL_TRY(write_entry_markers(t.tid));
  if (wrote_shared) {
    // Replay emulates a write to a file the process maps MAP_SHARED: the
    // mapping gets its new contents from the trace (as for a traced write).
    // Rare; done here and now, since it reads the file.
    size_t pos = 0;
    for (uint8_t flag : flags) {
      ParsedRecord p = parse_record(records, pos);
      pos += p.rec.size;
      trace::BufferedSyscallView view = p.view(flag);
      if (!is_write_syscall(view.syscallno) || view.result <= 0) {
        RRL_TRY(record_buffered_view(t.tid, view));
        continue;
      }
      trace::BufferedSyscallEvent ev;
      ev.syscallno = view.syscallno;
      std::copy(view.args.begin(), view.args.end(), ev.args.begin());
      ev.result = view.result;
      ev.flags = flag;
      for (const auto& w : view.writes)
        ev.writes.push_back({w.addr, {w.data.begin(), w.data.end()}});
      RRL_TRY(capture_shared_mappings(t, ev.syscallno, ev.args[0], ev.result, ev.writes));
      RRL_TRY(record(t.tid, std::move(ev)));
    }
    record_chunks_->give_back(std::move(chunk));
    return {};
  }
  const uint64_t first = next_event_, count = flags.size();
  next_event_ += count;
  kLog.debug(t.tid, "events {}..{} buffered_syscall", first, next_event_ - 1);
  auto views = [chunk = std::move(chunk), len, flags = std::move(flags),
                chunks = record_chunks_](const trace::TraceWriter::BufferedEmit& emit) mutable {
    emit_records(std::span(chunk.data(), len), flags, emit);
    chunks->give_back(std::move(chunk));
    return Status{};
  };
  RRL_TRY(writer_.append_buffered_later(first, t.tid, count, std::move(views)));
  return flush_now_and_then();
}

namespace {

// Finishes a BufferRead however the job that holds it ends, even when the
// trace's thread drops it unrun (after a write error): a waiter never hangs.
struct ReadDone {
  std::shared_ptr<BufferRead> read;
  ReadDone(std::shared_ptr<BufferRead> r) : read(std::move(r)) {}
  ReadDone(ReadDone&&) = default;
  ~ReadDone() {
    if (read) read->finish();
  }
};

}  // namespace

// The records of a full half, `count` of them in `len` bytes at `from`:
// their event numbers are taken now, while reading, working out the echo
// flags and encoding them is left to the trace's thread (the task goes on
// meanwhile; await_buffer_read keeps the half in place until the read is
// done). When the memory cannot be read (the process was killed without an
// exit stop), the events say so: syscall number -1, which replay reports as
// a divergence at that point.
Status Session::record_buffered_later(Task& t, uint64_t from, size_t len, uint64_t count) {
  if (count == 0) return {};
  RRL_TRY(write_entry_markers(t.tid));
  const uint64_t first = next_event_;
  next_event_ += count;
  kLog.debug(t.tid, "events {}..{} buffered_syscall, read later", first, next_event_ - 1);
  auto read = std::make_shared<BufferRead>();
  t.as->pending_read = read;
  auto views = [tid = t.tid, from, len, count, done = ReadDone(read), chunks = record_chunks_,
                std_files = std_files_](const trace::TraceWriter::BufferedEmit& emit) mutable {
    std::vector<uint8_t> chunk = chunks->take(len);
    std::span<uint8_t> records(chunk.data(), len);
    const bool readable = ptrace::read_memory(tid, RemoteAddr(from), records).has_value();
    bool wrote = false;
    auto flags = readable ? check_records(records, tid, std_files, wrote)
                          : Expected<std::vector<uint8_t>>(std::vector<uint8_t>{});
    done.read->finish();  // the program may have the half back
    if (!readable) {
      kLog.log(LogLevel::kWarn, tid,
               "the syscall buffer could not be read: {} buffered syscalls are lost", count);
      const uint64_t no_args[6] = {};
      for (uint64_t i = 0; i < count; ++i)
        emit({-1, std::span<const uint64_t, 6>(no_args, 6), -ESRCH, 0, {}});
      chunks->give_back(std::move(chunk));
      return Status{};
    }
    if (!flags) return Status(std::unexpected(flags.error()));
    if (flags->size() != count)
      return Status(fail(fmt::format("the syscall buffer of task {} holds {} records, not {}", tid,
                                     flags->size(), count)));
    emit_records(records, *flags, emit);
    chunks->give_back(std::move(chunk));
    return Status{};
  };
  RRL_TRY(writer_.append_buffered_later(first, t.tid, count, std::move(views)));
  return flush_now_and_then();
}

// Single-stepping pushfq/popfq in the preload entry can leave the trap flag
// set in the task's own flags: clear it, or the program gets a SIGTRAP later.
Status clear_trap_flag(pid_t tid) {
  constexpr uint64_t kTrapFlag = 0x100;
  auto regs = ptrace::get_regs(tid);
  if (!regs) return std::unexpected(regs.error());
  if (!(regs->r.eflags & kTrapFlag)) return {};
  regs->r.eflags &= ~kTrapFlag;
  return ptrace::set_regs(tid, *regs);
}

namespace {

// Whether a task stopped at ip inside the preload code gets out sooner by
// running to two hardware breakpoints than by single steps: anywhere in the
// C code (a record's output is copied there, up to 256 KiB) and in the entry
// before its call, but not on the entry's way back to the stub (past the
// breakpoint) nor in a stub.
bool runs_to_preload_exit(uint64_t ip) {
  return ip >= preload::kBase && ip < preload::kBase + preload::kCodeSize &&
         !(ip >= preload::entry_resume_address() && ip < preload::untraced_address());
}

}  // namespace

// Runs t until rrl_buffered returns into the entry, or t comes to the
// untraced syscall (which may block: step_out_of_preload takes it back),
// whichever is first: hardware breakpoints at both. true: stopped at one;
// false: stopped for another reason, or died (t.pending_status).
Expected<bool> Session::run_to_preload_exit(Task& t) {
  kLog.debug(t.tid, "runs out of the preload code to a breakpoint");
  const uint64_t at[] = {preload::entry_resume_address(), preload::untraced_end_address() - 2};
  RRL_TRY(ptrace::set_exec_breakpoints(t.tid, at));
  RRL_TRY(ptrace::cont(t.tid));
  auto waited = ptrace::wait_status(t.tid, "while running out of the preload code");
  if (!waited) return std::unexpected(waited.error());
  int status = *waited;
  if (WIFSTOPPED(status)) {
    if (auto st = ptrace::set_exec_breakpoints(t.tid, {}); !st && !ptrace::is_died(st.error()))
      return std::unexpected(st.error());
  }
  if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) {
    auto si = ptrace::get_siginfo(t.tid);
    if (si && si->si_code == TRAP_HWBKPT) return true;
  }
  t.pending_status = status;
  return false;
}

// Single-steps a task that a time slice stopped inside the preload code until
// it is out. true: it is out and stopped; false: it stopped for another
// reason, or died: that wait status is now t.pending_status.
Expected<bool> Session::step_out_of_preload(Task& t) {
  for (int steps = 0; steps < kMaxStepsOut; ++steps) {
    auto regs = ptrace::get_regs(t.tid);
    if (!regs) return std::unexpected(regs.error());
    // At the entry's first instruction (a pushfq, which must not be stepped:
    // the saved trap flag would come back later) nothing of the buffer is
    // held yet: as good as out.
    if (!preload::in_preload_code(regs->ip()) || regs->ip() == preload::entry_address()) {
      RRL_TRY(clear_trap_flag(t.tid));
      return true;
    }
    // Never step into the untraced syscall: it may block, with every other
    // task of the address space held up. Take it back (blocking.cc) instead.
    if (regs->ip() + 2 == preload::untraced_end_address()) {
      RRL_TRY(abort_untraced(t, *regs, static_cast<int64_t>(regs->r.rax)));
      continue;
    }
    if (runs_to_preload_exit(regs->ip())) {
      auto stopped = run_to_preload_exit(t);
      if (!stopped) return std::unexpected(stopped.error());
      if (!*stopped) return false;
      continue;
    }
    t.stepped = t.trap_flag_risk = true;
    RRL_TRY(ptrace::singlestep(t.tid));
    auto waited = ptrace::wait_status(t.tid, "while stepping out of the preload code");
    if (!waited) return std::unexpected(waited.error());
    int status = *waited;
    bool plain_step = WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0;
    if (plain_step) {
      // The kernel's own trap (not a SIGTRAP somebody sent).
      auto si = ptrace::get_siginfo(t.tid);
      if (si && si->si_code > 0) continue;
    }
    t.pending_status = status;
    if (WIFSTOPPED(status)) RRL_TRY(clear_trap_flag(t.tid));
    return false;
  }
  return fail(fmt::format("task {} does not leave the preload code", t.tid));
}

}  // namespace rrl::recorder
