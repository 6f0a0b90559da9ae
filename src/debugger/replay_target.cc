#include "debugger/replay_target.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/ptrace.h"

namespace rrl::debugger {

using replayer::ReplayTask;

Status ReplayTarget::on_replay_thread(const std::function<Status()>& job) {
  Status result = fail("the replay has ended");
  if (!mailbox_.run([&] { result = job(); })) return fail("the replay has ended");
  return result;
}

ReplayTask* ReplayTarget::task(gdb::ThreadRef thread) {
  auto* session = debugger_.session_.get();
  if (!session) return nullptr;
  if (thread.tid > 0)
    if (auto* t = session->find_task(thread.tid); t && session->is_debugged(*t)) return t;
  auto tasks = session->debugged_tasks();
  if (tasks.empty()) return nullptr;
  // The thread of the last stop, else any.
  for (auto* t : tasks)
    if (stop_ && t->rec_tid == stop_->thread.tid) return t;
  return tasks.front();
}

std::vector<gdb::ThreadInfo> ReplayTarget::threads() {
  std::vector<gdb::ThreadInfo> out;
  (void)on_replay_thread([&]() -> Status {
    for (auto* t : debugger_.session_->debugged_tasks())
      out.push_back(gdb::ThreadInfo{gdb::ThreadRef{t->rec_tgid, t->rec_tid}, ""});
    return {};
  });
  return out;
}

gdb::StopEvent ReplayTarget::last_stop() {
  if (!stop_) stop_ = mailbox_.wait_stop(0, nullptr);
  return *stop_;
}

gdb::ThreadRef ReplayTarget::current_thread() {
  return last_stop().thread;
}

Expected<Registers> ReplayTarget::general_registers(gdb::ThreadRef thread) {
  Registers regs;
  RRL_TRY(on_replay_thread([&]() -> Status {
    ReplayTask* t = task(thread);
    if (!t) return fail("no such thread");
    auto r = ptrace::get_regs(t->tid);
    if (!r) return std::unexpected(r.error());
    regs = *r;
    return {};
  }));
  return regs;
}

Expected<user_fpregs_struct> ReplayTarget::fp_registers(gdb::ThreadRef thread) {
  user_fpregs_struct fp{};
  RRL_TRY(on_replay_thread([&]() -> Status {
    ReplayTask* t = task(thread);
    if (!t) return fail("no such thread");
    auto r = ptrace::get_fpregs(t->tid);
    if (!r) return std::unexpected(r.error());
    fp = *r;
    return {};
  }));
  return fp;
}

std::vector<uint8_t> ReplayTarget::xsave_area(gdb::ThreadRef thread) {
  std::vector<uint8_t> area;
  (void)on_replay_thread([&]() -> Status {
    ReplayTask* t = task(thread);
    if (!t) return fail("no such thread");
    if (auto r = ptrace::get_xstate(t->tid)) area = std::move(*r);
    return {};
  });
  return area;
}

std::vector<uint8_t> ReplayTarget::read_memory(gdb::ThreadRef, uint64_t addr, size_t len) {
  std::vector<uint8_t> out;
  (void)on_replay_thread([&]() -> Status {
    out = debugger_.session_->read_debug_memory(addr, len);
    return {};
  });
  return out;
}

Expected<std::vector<uint8_t>> ReplayTarget::auxv(int pid) {
  std::vector<uint8_t> out;
  RRL_TRY(on_replay_thread([&]() -> Status {
    ReplayTask* t = task(gdb::ThreadRef{pid, pid});
    if (!t) return fail("no such process");
    std::ifstream in(fmt::format("/proc/{}/auxv", t->tid), std::ios::binary);
    if (!in) return fail("cannot read the auxiliary vector");
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return {};
  }));
  return out;
}

Expected<std::string> ReplayTarget::exec_file(int pid) {
  std::string path;
  RRL_TRY(on_replay_thread([&]() -> Status {
    ReplayTask* t = task(gdb::ThreadRef{pid, pid});
    if (!t) return fail("no such process");
    path = debugger_.session_->exe_file(t->rec_tgid);
    if (path.empty()) return fail("no executable known for this process");
    return {};
  }));
  return path;
}

// Files under /proc/PID of a recorded process are those of its replay (the
// recorded pid and tids are the replay's own ones); other paths are read as
// they are.
Expected<std::string> ReplayTarget::file_contents(int pid, const std::string& path) {
  std::string real = path;
  RRL_TRY(on_replay_thread([&]() -> Status {
    auto* session = debugger_.session_.get();
    std::string prefix = fmt::format("/proc/{}/", pid);
    if (!session || !path.starts_with(prefix)) return {};
    ReplayTask* t = task(gdb::ThreadRef{pid, pid});
    if (!t) return fail_errno("no such process", ENOENT);
    std::string rest = path.substr(prefix.size());
    for (auto* other : session->debugged_tasks()) {
      std::string from = fmt::format("task/{}/", other->rec_tid);
      if (rest.starts_with(from)) rest = fmt::format("task/{}/", other->tid) + rest.substr(from.size());
    }
    real = fmt::format("/proc/{}/{}", t->tid, rest);
    return {};
  }));
  std::ifstream in(real, std::ios::binary);
  if (!in) return fail_errno("cannot open " + real, errno ? errno : ENOENT);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

Expected<gdb::StopEvent> ReplayTarget::resume(const gdb::ResumeRequest& request,
                                              const gdb::InterruptPoll& interrupted) {
  uint64_t seen = mailbox_.stops_published();
  RRL_TRY(on_replay_thread([&]() -> Status {
    debugger_.resume_ = request;
    if (request.direction == gdb::Direction::kReverse)
      debugger_.request_ = request.action == gdb::ResumeAction::kStep
                               ? ReplayDebugger::Request::kReverseStep
                               : ReplayDebugger::Request::kReverseContinue;
    else
      debugger_.resumed_ = true;
    return {};
  }));
  stop_ = mailbox_.wait_stop(seen, interrupted);
  return *stop_;
}

Status ReplayTarget::insert_breakpoint(gdb::BreakpointType type, uint64_t addr, uint64_t kind) {
  return on_replay_thread([&]() -> Status {
    auto* session = debugger_.session_.get();
    if (type == gdb::BreakpointType::kSoftware || type == gdb::BreakpointType::kHardware) {
      if (debugger_.points_installed_) RRL_TRY(session->add_breakpoint(addr));
      debugger_.breakpoints_.push_back(addr);
      return {};
    }
    auto wk = static_cast<replayer::WatchKind>(type);
    if (debugger_.points_installed_) RRL_TRY(session->watchpoints().add(addr, kind, wk));
    debugger_.watches_.push_back(replayer::Watchpoint{addr, kind, wk});
    return {};
  });
}

Status ReplayTarget::remove_breakpoint(gdb::BreakpointType type, uint64_t addr, uint64_t kind) {
  return on_replay_thread([&]() -> Status {
    auto* session = debugger_.session_.get();
    if (type == gdb::BreakpointType::kSoftware || type == gdb::BreakpointType::kHardware) {
      auto& bps = debugger_.breakpoints_;
      auto it = std::find(bps.begin(), bps.end(), addr);
      if (it == bps.end()) return {};
      bps.erase(it);
      if (debugger_.points_installed_) RRL_TRY(session->remove_breakpoint(addr));
      return {};
    }
    auto wk = static_cast<replayer::WatchKind>(type);
    std::erase_if(debugger_.watches_, [&](const replayer::Watchpoint& w) {
      return w.addr == addr && w.len == kind && w.kind == wk;
    });
    if (debugger_.points_installed_) RRL_TRY(session->watchpoints().remove(addr, kind, wk));
    return {};
  });
}

Expected<std::string> ReplayTarget::monitor_command(std::string_view command) {
  std::string reply;
  RRL_TRY(on_replay_thread([&]() -> Status {
    reply = monitor(command);
    return {};
  }));
  return reply;
}

// rr-like's own commands, typed in gdb as `monitor ...` (or through the gdb
// commands `when`, `checkpoint`, `restart` and `info checkpoints`).
std::string ReplayTarget::monitor(std::string_view command) {
  std::istringstream in{std::string(command)};
  std::string word;
  in >> word;
  auto& d = debugger_;
  if (word == "when") return fmt::format("Current event: {}\n", d.current_.event);
  if (word == "checkpoint") {
    d.checkpoints_.push_back(d.current_);
    return fmt::format("Checkpoint {} at event {}.\n", d.checkpoints_.size(), d.current_.event);
  }
  if (word == "checkpoints" || word == "info") {
    if (d.checkpoints_.empty()) return "No checkpoints.\n";
    std::string out;
    for (size_t i = 0; i < d.checkpoints_.size(); ++i)
      out += fmt::format("{}\tevent {}\n", i + 1, d.checkpoints_[i].event);
    return out;
  }
  if (word == "restart") {
    size_t n = 0;
    Position to{d.options_.history_start, {},
                replayer::DebugStop{replayer::DebugStop::Kind::kSignal, 0, {}, SIGTRAP, true}};
    if (in >> n) {
      if (n == 0 || n > d.checkpoints_.size()) return fmt::format("No checkpoint number {}.\n", n);
      to = d.checkpoints_[n - 1];
      to.stop = replayer::DebugStop{replayer::DebugStop::Kind::kSignal, 0, {}, SIGTRAP, true};
    }
    d.seek_request_ = to;
    d.request_ = ReplayDebugger::Request::kSeek;
    return n ? fmt::format("Restarting from checkpoint {} (event {}).\n", n, to.event)
             : fmt::format("Restarting from the start (event {}).\n", to.event);
  }
  return "rr-like commands: when, checkpoint, checkpoints, restart [N]\n";
}

void ReplayTarget::kill() {
  (void)on_replay_thread([&]() -> Status {
    debugger_.request_ = ReplayDebugger::Request::kQuit;
    return {};
  });
}

}  // namespace rrl::debugger
