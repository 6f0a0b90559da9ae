// gdb::Target for a replay: what the gdb server asks, answered by the replay
// thread. Every method posts a job through the Mailbox and waits for it; the
// replay thread runs jobs only while the replay stands still at a stop.
#pragma once

#include <optional>

#include "debugger/mailbox.h"
#include "debugger/replay_debugger.h"
#include "gdbserver/target.h"

namespace rrl::debugger {

class ReplayTarget : public gdb::Target {
 public:
  ReplayTarget(ReplayDebugger& debugger, Mailbox& mailbox)
      : debugger_(debugger), mailbox_(mailbox) {}

  std::vector<gdb::ThreadInfo> threads() override;
  gdb::ThreadRef current_thread() override;
  gdb::StopEvent last_stop() override;
  Expected<Registers> general_registers(gdb::ThreadRef thread) override;
  Expected<user_fpregs_struct> fp_registers(gdb::ThreadRef thread) override;
  std::vector<uint8_t> xsave_area(gdb::ThreadRef thread) override;
  std::vector<uint8_t> read_memory(gdb::ThreadRef thread, uint64_t addr, size_t len) override;
  Expected<std::vector<uint8_t>> auxv(int pid) override;
  Expected<std::string> exec_file(int pid) override;
  Expected<std::string> file_contents(int pid, const std::string& path) override;
  Expected<gdb::StopEvent> resume(const gdb::ResumeRequest& request,
                                  const gdb::InterruptPoll& interrupted) override;
  Status insert_breakpoint(gdb::BreakpointType type, uint64_t addr, uint64_t kind) override;
  Status remove_breakpoint(gdb::BreakpointType type, uint64_t addr, uint64_t kind) override;
  Expected<std::string> monitor_command(std::string_view command) override;
  void kill() override;
  void detach() override { kill(); }

 private:
  // Runs `job` on the replay thread; an error when the replay has ended.
  Status on_replay_thread(const std::function<Status()>& job);
  replayer::ReplayTask* task(gdb::ThreadRef thread);
  std::string monitor(std::string_view command);

  ReplayDebugger& debugger_;
  Mailbox& mailbox_;
  std::optional<gdb::StopEvent> stop_;
};

}  // namespace rrl::debugger
