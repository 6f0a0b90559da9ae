// GdbServer main loop and the handlers for execution state: registers, memory,
// resume (forward and reverse), breakpoints, threads. The query-style handlers
// (qXfer, monitor, feature switches) are in server_queries.cc.
#include "gdbserver/server.h"

#include <algorithm>
#include <variant>

#include "common/log.h"
#include "gdbserver/packet.h"
#include "gdbserver/reply.h"
#include "gdbserver/target_xml.h"

namespace rrl::gdb {
namespace {

const LogChannel kLog("gdbserver");
// Largest 'm' answer: half our PacketSize, since each byte takes two digits.
constexpr uint64_t kMaxMemoryRead = 0x2000;

}  // namespace

GdbServer::GdbServer(Connection connection, Target& target)
    : conn_(std::move(connection)), target_(target) {}

Status GdbServer::run() {
  while (!done_) {
    auto ev = conn_.read_event();
    if (!ev) return conn_.disconnected() ? Status{} : Status(std::unexpected(ev.error()));
    if (ev->kind == ConnectionEvent::Kind::kDisconnected) return {};
    if (ev->kind == ConnectionEvent::Kind::kInterrupt) {
      kLog.debug(0, "Ctrl-C while stopped: nothing to interrupt");
      continue;
    }
    Reply reply = handle_packet(ev->payload);
    if (reply) {
      if (auto sent = conn_.send_packet(*reply); !sent) {
        if (conn_.disconnected()) return {};
        return sent;
      }
    }
    if (pending_no_ack_) {
      conn_.set_no_ack(true);
      pending_no_ack_ = false;
    }
  }
  return {};
}

std::optional<std::string> GdbServer::handle_packet(std::string_view payload) {
  auto request = parse_request(payload);
  if (!request) {
    kLog.info(0, "malformed packet '{}': {}", payload, request.error().message);
    return reply_error(1);
  }
  return std::visit([this](const auto& req) { return handle(req); }, *request);
}

std::optional<ThreadRef> GdbServer::resolve(const ThreadId& id) {
  if (id.tid == ThreadId::kAny || id.tid == ThreadId::kAll) {
    ThreadRef current = target_.current_thread();
    if (id.pid > 0 && id.pid != current.pid) {
      for (const ThreadInfo& t : target_.threads())
        if (t.thread.pid == id.pid) return t.thread;
      return std::nullopt;
    }
    return current;
  }
  for (const ThreadInfo& t : target_.threads()) {
    if (t.thread.tid == id.tid && (id.pid <= 0 || t.thread.pid == id.pid)) return t.thread;
  }
  return std::nullopt;
}

ThreadRef GdbServer::register_thread() {
  if (g_thread_) {
    if (auto t = resolve(*g_thread_)) return *t;
  }
  return target_.current_thread();
}

// The thread the legacy c/s/bc/bs packets act on (set by Hc).
ThreadRef GdbServer::continue_thread() {
  ThreadRef current = target_.current_thread();
  if (!c_thread_) return current;
  return resolve(*c_thread_).value_or(current);
}

std::string GdbServer::stop_reply(const StopEvent& stop) {
  // gdb takes the thread of a stop as the one its next g, m and s packets
  // are about, without sending Hg or Hc again.
  if (stop.thread.tid > 0) {
    g_thread_ = c_thread_ = ThreadId{stop.thread.pid, stop.thread.tid};
  }
  StopReplyOptions options;
  options.multiprocess = multiprocess_;
  if (list_threads_in_stop_) {
    for (const ThreadInfo& t : target_.threads()) options.threads.push_back(t.thread);
  }
  return reply_stop(stop, options);
}

GdbServer::Reply GdbServer::refuse_write(std::string_view what) {
  kLog.info(0, "refused {}: a replay is read-only", what);
  return reply_error(1);
}

GdbServer::Reply GdbServer::handle(const HaltReason&) {
  return stop_reply(target_.last_stop());
}

GdbServer::Reply GdbServer::handle(const ReadRegisters&) {
  ThreadRef thread = register_thread();
  auto regs = target_.general_registers(thread);
  auto fpregs = target_.fp_registers(thread);
  if (!regs || !fpregs) {
    kLog.info(thread.tid, "cannot read registers: {}",
              (!regs ? regs.error() : fpregs.error()).message);
    return reply_error(1);
  }
  std::vector<uint8_t> xsave = target_.xsave_area(thread);
  return encode_all_registers(*regs, *fpregs, xsave);
}

GdbServer::Reply GdbServer::handle(const ReadRegister& req) {
  ThreadRef thread = register_thread();
  auto regs = target_.general_registers(thread);
  auto fpregs = target_.fp_registers(thread);
  if (!regs || !fpregs) return reply_error(1);
  std::vector<uint8_t> xsave = target_.xsave_area(thread);
  auto value = encode_register(req.regno, *regs, *fpregs, xsave);
  if (!value) return reply_error(1);
  return *value;
}

GdbServer::Reply GdbServer::handle(const WriteRegisters&) {
  return refuse_write("G");
}
GdbServer::Reply GdbServer::handle(const WriteRegister&) {
  return refuse_write("P");
}

GdbServer::Reply GdbServer::handle(const WriteMemory& req) {
  return refuse_write(req.binary ? "X (memory write)" : "M (memory write)");
}

GdbServer::Reply GdbServer::handle(const ReadMemory& req) {
  size_t length = static_cast<size_t>(std::min(req.length, kMaxMemoryRead));
  if (length == 0) return reply_empty();
  std::vector<uint8_t> bytes = target_.read_memory(register_thread(), req.addr, length);
  if (bytes.empty()) return reply_error(1);
  if (bytes.size() > length) bytes.resize(length);
  return hex_encode(bytes);
}

GdbServer::Reply GdbServer::resume(ResumeAction action, Direction direction, ThreadRef thread) {
  ResumeRequest request{action, direction, thread};
  auto stop = target_.resume(request, [this] { return conn_.poll_interrupt(); });
  if (!stop) {
    kLog.info(thread.tid, "resume failed: {}", stop.error().message);
    return reply_error(1);
  }
  return stop_reply(*stop);
}

GdbServer::Reply GdbServer::handle(const Resume& req) {
  if (req.addr) return refuse_write("resuming at another address");
  if (req.signal != 0)
    kLog.info(0, "signal {} not delivered: replay repeats the recording", req.signal);
  ThreadRef thread = continue_thread();
  auto action = req.kind == VContKind::kStep ? ResumeAction::kStep : ResumeAction::kContinue;
  return resume(action, Direction::kForward, thread);
}

GdbServer::Reply GdbServer::handle(const VContQuery&) {
  return std::string("vCont;c;C;s;S");
}

GdbServer::Reply GdbServer::handle(const VCont& req) {
  // All-stop replay runs every thread in recorded order, so the only choice
  // that matters is whether some thread is stepped.
  ThreadRef thread = target_.current_thread();
  bool any_resume = false;
  for (const VContAction& action : req.actions) {
    if (action.kind == VContKind::kStop) continue;
    any_resume = true;
    if (action.signal != 0)
      kLog.info(0, "signal {} not delivered: replay repeats the recording", action.signal);
    if (action.kind == VContKind::kStep || action.kind == VContKind::kRangeStep) {
      if (action.thread) thread = resolve(*action.thread).value_or(thread);
      return resume(ResumeAction::kStep, Direction::kForward, thread);
    }
  }
  if (!any_resume) return reply_error(1);  // 't' alone only makes sense in non-stop mode
  return resume(ResumeAction::kContinue, Direction::kForward, thread);
}

GdbServer::Reply GdbServer::handle(const ReverseContinue&) {
  return resume(ResumeAction::kContinue, Direction::kReverse, continue_thread());
}

GdbServer::Reply GdbServer::handle(const ReverseStep&) {
  return resume(ResumeAction::kStep, Direction::kReverse, continue_thread());
}

GdbServer::Reply GdbServer::handle(const Breakpoint& req) {
  Status status = req.insert ? target_.insert_breakpoint(req.type, req.addr, req.kind)
                             : target_.remove_breakpoint(req.type, req.addr, req.kind);
  if (!status) {
    kLog.info(0, "{} breakpoint type {} at {:#x} failed: {}", req.insert ? "insert" : "remove",
              static_cast<int>(req.type), req.addr, status.error().message);
    return reply_error(1);
  }
  return reply_ok();
}

GdbServer::Reply GdbServer::handle(const SetThread& req) {
  if (req.thread.tid != ThreadId::kAll && !resolve(req.thread)) return reply_error(1);
  (req.op == 'g' ? g_thread_ : c_thread_) = req.thread;
  return reply_ok();
}

GdbServer::Reply GdbServer::handle(const ThreadAlive& req) {
  return resolve(req.thread) ? reply_ok() : reply_error(1);
}

GdbServer::Reply GdbServer::handle(const CurrentThread&) {
  return "QC" + format_thread_id(target_.current_thread(), multiprocess_);
}

GdbServer::Reply GdbServer::handle(const ThreadListFirst&) {
  std::vector<ThreadRef> refs;
  for (const ThreadInfo& t : target_.threads()) refs.push_back(t.thread);
  return reply_thread_list(refs, multiprocess_);
}

GdbServer::Reply GdbServer::handle(const ThreadListNext&) {
  return reply_thread_list_end();
}

GdbServer::Reply GdbServer::handle(const Kill& req) {
  kLog.info(0, "gdb asked to kill the replay");
  target_.kill();
  done_ = true;
  if (req.vkill) return reply_ok();
  return std::nullopt;  // 'k' has no reply
}

GdbServer::Reply GdbServer::handle(const Detach&) {
  kLog.info(0, "gdb detached");
  target_.detach();
  done_ = true;
  return reply_ok();
}

}  // namespace rrl::gdb
