#include "replayer/replayer.h"

#include <cpuid.h>
#include <sys/mman.h>

#include <set>

#include "common/log.h"
#include "replayer/replay_session.h"
#include "trace/trace_dir.h"
#include "trace/trace_reader.h"

namespace rrl::replayer {

namespace {

// cpuid cannot be trapped here, so a replay on another CPU may see different
// answers (and take different code paths in libc). Say so up front.
void warn_if_other_cpu(const trace::Header& h) {
  for (const auto& leaf : h.cpuid) {
    if (leaf.leaf != 1 && leaf.leaf != 0) continue;
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf.leaf, leaf.subleaf, a, b, c, d);
    // Leaf 1 ebx holds the APIC id of the CPU we run on: ignore it.
    bool same = leaf.leaf == 1 ? (a == leaf.eax && c == leaf.ecx && d == leaf.edx)
                               : (a == leaf.eax && b == leaf.ebx && c == leaf.ecx && d == leaf.edx);
    if (!same) {
      print_warning("this trace was recorded on another CPU (" + h.cpu_model +
                    "); replay may diverge where the program asks the CPU what it supports");
      return;
    }
  }
}

// Saved files that some mapping maps MAP_SHARED. Replay maps every mapping of
// those from one writable scratch copy, so that the mappings stay coherent
// with each other as they were (a write through one shows in the others).
Expected<std::set<std::string>> shared_mapped_files(const std::string& dir) {
  auto reader = trace::TraceReader::open(dir);
  if (!reader) return std::unexpected(reader.error());
  std::set<std::string> files;
  while (true) {
    auto ev = reader->next();
    if (!ev) return std::unexpected(ev.error());
    if (!*ev) break;
    if (auto* mm = std::get_if<trace::MmapEvent>(&(*ev)->data))
      if ((mm->mapping.flags & MAP_SHARED) && !mm->mapping.trace_file.empty())
        files.insert(mm->mapping.trace_file);
  }
  return files;
}

}  // namespace

Expected<PreparedTrace> prepare(const ReplayOptions& opts) {
  auto dir = trace::resolve_trace_dir(opts.trace);
  if (!dir) return std::unexpected(dir.error());
  auto reader = trace::TraceReader::open(*dir);
  if (!reader) return std::unexpected(reader.error());
  if (reader->incomplete())
    return fail("trace " + *dir + " is incomplete (" + trace::state_name(reader->header().state) +
                "): its recording did not finish, so it cannot be replayed to its end");
  warn_if_other_cpu(reader->header());
  auto shared = shared_mapped_files(*dir);
  if (!shared) return std::unexpected(shared.error());
  return PreparedTrace{*dir, std::move(*shared)};
}

Expected<std::unique_ptr<ReplaySession>> open_session(const PreparedTrace& trace) {
  auto reader = trace::TraceReader::open(trace.dir);
  if (!reader) return std::unexpected(reader.error());
  return std::make_unique<ReplaySession>(std::move(*reader), trace.shared_files);
}

Expected<int> replay(const ReplayOptions& opts) {
  auto trace = prepare(opts);
  if (!trace) return std::unexpected(trace.error());
  auto session = open_session(*trace);
  if (!session) return std::unexpected(session.error());
  if (auto st = (*session)->run(); !st) return std::unexpected(st.error());
  return (*session)->exit_status();
}

}  // namespace rrl::replayer
