// GdbServer: reads requests from a Connection, answers them from a Target.
// One handler per request kind; writes are refused because a replay cannot
// change what happened. The server holds gdb's session state (selected
// threads, negotiated features), never the debuggee's.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "gdbserver/connection.h"
#include "gdbserver/request.h"
#include "gdbserver/target.h"

namespace rrl::gdb {

class GdbServer {
 public:
  GdbServer(Connection connection, Target& target);
  // Serves until gdb detaches, kills, or disconnects (all a normal end).
  // Errors are transport failures only.
  Status run();
  // Answers one packet payload; nullopt means "send nothing" ('k').
  std::optional<std::string> handle_packet(std::string_view payload);

 private:
  using Reply = std::optional<std::string>;

  Reply handle(const QSupported& req);
  Reply handle(const StartNoAckMode& req);
  Reply handle(const HaltReason& req);
  Reply handle(const ReadRegisters& req);
  Reply handle(const WriteRegisters& req);
  Reply handle(const ReadRegister& req);
  Reply handle(const WriteRegister& req);
  Reply handle(const ReadMemory& req);
  Reply handle(const WriteMemory& req);
  Reply handle(const Resume& req);
  Reply handle(const VContQuery& req);
  Reply handle(const VCont& req);
  Reply handle(const ReverseContinue& req);
  Reply handle(const ReverseStep& req);
  Reply handle(const Breakpoint& req);
  Reply handle(const SetThread& req);
  Reply handle(const ThreadAlive& req);
  Reply handle(const CurrentThread& req);
  Reply handle(const ThreadListFirst& req);
  Reply handle(const ThreadListNext& req);
  Reply handle(const Attached& req);
  Reply handle(const XferRead& req);
  Reply handle(const MonitorCommand& req);
  Reply handle(const Offsets& req);
  Reply handle(const SymbolLookup& req);
  Reply handle(const TraceStatus& req);
  Reply handle(const MustReplyEmpty& req);
  Reply handle(const Kill& req);
  Reply handle(const Detach& req);
  Reply handle(const ThreadExtraInfo& req);
  Reply handle(const NonStop& req);
  Reply handle(const ThreadEvents& req);
  Reply handle(const ListThreadsInStopReplies& req);
  Reply handle(const SignalFilter& req);
  Reply handle(const VFile& req);
  Reply handle(const Unknown& req);

  Reply refuse_write(std::string_view what);
  Reply resume(ResumeAction action, Direction direction, ThreadRef thread);
  std::string stop_reply(const StopEvent& stop);
  std::optional<ThreadRef> resolve(const ThreadId& id);
  ThreadRef register_thread();
  ThreadRef continue_thread();
  Expected<std::string> xfer_object(const XferRead& req);
  std::string threads_xml();

  Connection conn_;
  Target& target_;
  bool multiprocess_ = false;
  bool list_threads_in_stop_ = false;
  bool pending_no_ack_ = false;
  bool done_ = false;
  std::optional<ThreadId> g_thread_;  // Hg: registers and memory
  std::optional<ThreadId> c_thread_;  // Hc: legacy c/s packets
  std::map<int, std::string> files_;  // vFile: open files, read whole
  int next_file_ = 3;
};

}  // namespace rrl::gdb
