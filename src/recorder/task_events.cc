// Stops other than syscalls: clone/fork/vfork, exec, exit, job control,
// signals, and the rdtsc traps that PR_SET_TSC turns into SIGSEGV.
#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/proc_task.h"
#include "common/ptrace.h"
#include "recorder/mappings.h"
#include "recorder/session.h"
#include "vdso/vdso.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("recorder");

Expected<std::string> read_proc_file(pid_t tid, const char* what) {
  std::string path = fmt::format("/proc/{}/{}", tid, what);
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail_errno("read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\0', pos);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

Status Session::on_ptrace_event(Task& t, int event) {
  switch (event) {
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      auto msg = ptrace::get_event_msg(t.tid);
      if (!msg) return resume(t, /*to_syscall_exit=*/true);
      trace::CloneEvent ev;
      ev.new_tid = static_cast<int32_t>(*msg);
      ev.flags = t.entry_nr == SYS_clone ? t.entry_args[0] : 0;
      if (t.entry_nr == SYS_clone3) {
        uint64_t flags = 0;
        std::span<uint8_t> out(reinterpret_cast<uint8_t*>(&flags), sizeof flags);
        if (ptrace::read_memory(t.tid, RemoteAddr(t.entry_args[0]), out)) ev.flags = flags;
      }
      bool thread = (ev.flags & CLONE_THREAD) != 0;
      ev.kind = event == PTRACE_EVENT_VFORK ? trace::CloneEvent::kVfork
                : thread                    ? trace::CloneEvent::kThread
                                            : trace::CloneEvent::kFork;
      Task& child = add_task(ev.new_tid, thread ? t.tgid : ev.new_tid);
      // Threads and vfork children share the address space (and its syscall
      // buffer); a forked child gets a copy of what we know of it.
      bool shares_memory = (ev.flags & CLONE_VM) || ev.kind == trace::CloneEvent::kVfork;
      child.as = shares_memory || !t.as ? t.as : std::make_shared<AddressSpace>(*t.as);
      RRL_TRY(record(t.tid, ev));
      child.announced = true;
      if (ev.kind == trace::CloneEvent::kVfork) {
        t.vfork_child = child.tid;
        child.vfork_parent = t.tid;
      }
      return resume(t, /*to_syscall_exit=*/true);
    }
    case PTRACE_EVENT_EXEC:
      RRL_TRY(on_exec(t));
      return resume(t, /*to_syscall_exit=*/true);
    case PTRACE_EVENT_EXIT: {
      auto msg = ptrace::get_event_msg(t.tid);
      RRL_TRY(record(t.tid, trace::ExitEvent{msg ? static_cast<int32_t>(*msg) : 0}));
      t.exit_recorded = true;
      release_vfork_parent(t);
      if (t.tid == initial_ && msg) exit_status_ = -1;  // final status comes from waitpid
      // Let it die; it runs no more user code.
      if (auto st = ptrace::cont(t.tid); !st && !ptrace::is_died(st.error())) return st;
      t.state = TaskState::kInKernel;
      return finish_exit(t);
    }
    case PTRACE_EVENT_STOP: {
      int sig = WSTOPSIG(t.pending_status);
      if (!t.first_stop && is_stop_signal(sig)) {
        // Job-control stop: wait for SIGCONT without holding anybody up.
        if (auto st = ptrace::listen(t.tid); !st && !ptrace::is_died(st.error())) return st;
        t.state = TaskState::kGroupStop;
        return {};
      }
      if (!t.first_stop && sig == SIGTRAP && t.interrupt_sent) return on_preempted(t);
      t.first_stop = false;
      return resume(t, /*to_syscall_exit=*/t.in_syscall);
    }
    default:
      kLog.info(t.tid, "unexpected ptrace event {}", event);
      return resume(t, /*to_syscall_exit=*/t.in_syscall);
  }
}

// A dying thread still writes the program's memory: the kernel clears its
// CLONE_CHILD_CLEARTID word (which pthread_join watches) and wakes futex
// waiters. Wait until that is done before anyone else runs, so it happens at
// this point of the event order, as it does in replay.
Status Session::finish_exit(Task& t) {
  pid_t tid = t.tid;
  if (tid != t.tgid) {
    int status = 0;
    while (::waitpid(tid, &status, __WALL) < 0) {
      if (errno != EINTR) return {};
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) return handle_exited(tid, status);
    // Another stop before its death: queue it as usual.
    t.pending_status = status;
    t.state = TaskState::kReady;
    ready_.push_front(tid);
    return {};
  }
  // A thread-group leader is reaped only after its other threads.
  wait_for_zombie(tid, /*timeout_ms=*/1000);
  return {};
}

Status Session::on_exec(Task& t) {
  // A non-leader thread that execs takes over the leader's tid.
  pid_t former_tid = 0;
  if (auto former = ptrace::get_event_msg(t.tid); former && static_cast<pid_t>(*former) != t.tid) {
    former_tid = static_cast<pid_t>(*former);
    auto it = tasks_.find(former_tid);
    if (it != tasks_.end()) {
      t.in_syscall = it->second->in_syscall;
      t.entry_nr = it->second->entry_nr;
      t.entry_args = it->second->entry_args;
      std::erase(ready_, it->first);
      if (running_ == it->second.get()) running_ = nullptr;
      if (exclusive_ == it->second.get()) exclusive_ = nullptr;
      tasks_.erase(it);
    }
  }
  t.first_stop = false;
  t.handler_returns.clear();
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  if (regs->arch == Arch::kX86)
    return fail("32-bit (i386) programs cannot be recorded yet by this rr-like");
  trace::ExecEvent ev;
  ev.regs = *regs;
  ev.former_tid = former_tid;
  char exe[4096];
  ssize_t n = ::readlink(fmt::format("/proc/{}/exe", t.tid).c_str(), exe, sizeof exe - 1);
  ev.path = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string();
  if (auto s = read_proc_file(t.tid, "cmdline")) ev.argv = split_nul(*s);
  if (auto s = read_proc_file(t.tid, "environ")) ev.envp = split_nul(*s);
  auto auxv = read_proc_file(t.tid, "auxv");
  if (!auxv) return std::unexpected(auxv.error());
  ev.auxv.assign(auxv->begin(), auxv->end());
  if (auto random = vdso::auxv_lookup(ev.auxv, AT_RANDOM))
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(*random), ev.at_random));
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  for (const auto& m : *maps) {
    bool is_exe = m.path == ev.path;
    std::string open_path = is_exe ? fmt::format("/proc/{}/exe", t.tid) : m.path;
    auto rec = save_mapping(writer_, m, open_path);
    if (!rec) return fail("cannot save " + m.path + " into the trace: " + rec.error().describe());
    if (is_exe && ev.trace_file.empty()) ev.trace_file = rec->trace_file;
    if (m.path == "[stack]") {
      ev.stack_start = regs->sp() & ~4095ULL;
      ev.stack.resize(m.end - ev.stack_start);
      RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(ev.stack_start), ev.stack));
    }
    ev.mappings.push_back(std::move(*rec));
  }
  RRL_TRY(record(t.tid, std::move(ev)));
  release_vfork_parent(t);
  // Soon in the file, for a recording killed right after; not waited for.
  RRL_TRY(writer_.flush_soon());
  return patch_vdso(t, std::vector<uint8_t>(auxv->begin(), auxv->end()), *maps);
}

Status Session::patch_vdso(Task& t, std::span<const uint8_t> auxv,
                           const std::vector<MapEntry>& maps) {
  auto base = vdso::auxv_lookup(auxv, AT_SYSINFO_EHDR);
  if (!base) return {};
  for (const auto& m : maps) {
    if (m.start != *base) continue;
    std::vector<uint8_t> image(m.end - m.start);
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(m.start), image));
    auto patches = vdso::syscall_patches(image, m.start);
    if (!patches) return fail("cannot rewrite the vdso: " + patches.error().describe());
    trace::PatchEvent ev;
    ev.what = "vdso";
    std::vector<ptrace::RemoteWrite> writes;
    for (const auto& p : *patches) {
      writes.push_back({RemoteAddr(p.addr), p.bytes});
      ev.writes.push_back({p.addr, p.bytes});
    }
    RRL_TRY(ptrace::write_code(t.tid, writes));
    return record(t.tid, std::move(ev));
  }
  return {};
}

}  // namespace rrl::recorder
