// Reply payloads (before framing): OK, errors, stop replies, thread lists,
// console output. Pure string building; the server decides what to send.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gdbserver/target.h"

namespace rrl::gdb {

struct StopReplyOptions {
  bool multiprocess = true;        // "p<pid>.<tid>" thread ids
  std::vector<ThreadRef> threads;  // listed as "threads:" when non-empty
};

std::string reply_ok();
std::string reply_error(int code);  // "E01"
std::string reply_empty();
std::string format_thread_id(ThreadRef thread, bool multiprocess);
// "T05thread:p1.2;swbreak:;", "W00;process:1", "X09;process:1", ...
std::string reply_stop(const StopEvent& stop, const StopReplyOptions& options);
// "mp1.2,p1.3" for qfThreadInfo.
std::string reply_thread_list(std::span<const ThreadRef> threads, bool multiprocess);
std::string reply_thread_list_end();                      // "l"
std::string reply_console_output(std::string_view text);  // "O" + hex
// qXfer answer for [offset, offset+length) of `data`: "m..." when more
// follows, "l..." at the end. Binary data; escaping happens in encode_packet.
std::string reply_xfer_slice(std::string_view data, uint64_t offset, uint64_t length);

}  // namespace rrl::gdb
