// Where a searching stub can take over an instruction: the replayer finds a
// recorded point in a hot loop by a stub at that point's ip (replayer/
// fast_search.cc), so the recorder prefers to stop tasks at such ips. Both
// sides decide with these functions, from the same file and the same code,
// and therefore agree.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "monkeypatch/relocate.h"

namespace rrl::monkeypatch {

// A function's code as it is in a process, with every branch target in it.
struct FunctionCode {
  uint64_t start = 0, end = 0;  // run-time addresses
  std::vector<uint8_t> code;
  std::set<uint64_t> targets;
  bool contains(uint64_t ip) const { return ip >= start && ip < end; }
};

using ReadMemory = std::function<Status(uint64_t addr, std::span<uint8_t> out)>;

// The link-time address of `offset` in ELF file `path` (its PT_LOAD segments).
Expected<uint64_t> vaddr_of_file_offset(const std::string& path, uint64_t offset);

// The function around `ip`, in a mapping of `path` at `map_start` (file offset
// `map_offset`); its bytes come from `read`.
Expected<FunctionCode> function_code_at(const std::string& path, uint64_t map_start,
                                        uint64_t map_offset, uint64_t ip, const ReadMemory& read);

// The length of the instruction at the start of `code` when it is a string
// instruction with a rep/repne prefix (movs, stos, lods, cmps, scas, ins,
// outs), else 0. Such an instruction can be interrupted between two of its
// iterations, with its ip still at its start: a point no breakpoint or stub at
// that ip can find again, so recorded points are never left there.
size_t rep_string_length(std::span<const uint8_t> code);

// The region a 5-byte jump at `ip` would overwrite, or why there is none
// (never one that starts with a repeated string instruction, see above).
Expected<PatchRegion> anchor_region(const FunctionCode& function, uint64_t ip);

}  // namespace rrl::monkeypatch
