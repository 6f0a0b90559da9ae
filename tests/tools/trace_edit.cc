// Test tool: copies a trace, changing the result of one recorded syscall, so
// that tests can check that replay notices (a divergence or changed output)
// instead of succeeding silently.
//   trace_edit IN OUT SYSCALL_NAME DELTA
// adds DELTA to the result of the last SYSCALL_NAME event with a positive
// result (for cat, the read of the file it prints), traced or buffered.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/syscalls.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

using namespace rrl;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: trace_edit IN OUT SYSCALL_NAME DELTA\n");
    return 2;
  }
  auto reader = trace::TraceReader::open(argv[1]);
  if (!reader) {
    std::fprintf(stderr, "trace_edit: %s\n", reader.error().describe().c_str());
    return 1;
  }
  auto nr = syscalls::number(argv[3]);
  if (!nr) return 2;
  auto writer = trace::TraceWriter::create(argv[2], reader->header());
  if (!writer) return 1;
  std::filesystem::copy(std::string(argv[1]) + "/files", std::string(argv[2]) + "/files",
                        std::filesystem::copy_options::recursive);
  std::vector<trace::Event> events;
  while (true) {
    auto ev = reader->next();
    if (!ev) return 1;
    if (!*ev) break;
    events.push_back(std::move(**ev));
  }
  bool edited = false;
  for (auto it = events.rbegin(); it != events.rend() && !edited; ++it) {
    auto* sc = std::get_if<trace::SyscallEvent>(&it->data);
    if (sc && sc->syscallno == *nr && sc->regs.result() > 0) {
      sc->regs.set_result(static_cast<uint64_t>(sc->regs.result() + std::atoll(argv[4])));
      edited = true;
    }
    // The same for a syscall the preload code buffered.
    auto* bs = std::get_if<trace::BufferedSyscallEvent>(&it->data);
    if (bs && bs->syscallno == *nr && bs->result > 0) {
      bs->result += std::atoll(argv[4]);
      edited = true;
    }
  }
  for (const auto& ev : events)
    if (!writer->append(ev)) return 1;
  if (!edited || !writer->finish(reader->header())) return 1;
  return 0;
}
