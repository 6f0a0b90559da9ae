// The program replay execs: a copy of the trace's saved executable whose
// PT_INTERP names the trace's saved dynamic loader, so that replay needs
// neither the original program nor the system's ld.so (which an upgrade may
// have replaced since the recording).
//
// The kernel reads the loader's path from the executable and opens it
// relative to the working directory when it is relative. The copy gets a
// relative path of exactly the original length (a link in replay's private
// directory, which is the replayed processes' working directory), so nothing
// in the file moves; after the exec, the original bytes are put back in
// memory, so the program sees itself as it was.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"

namespace rrl::replayer {

struct InterpPatch {
  uint64_t vaddr = 0;    // link-time address of the PT_INTERP string
  uint64_t e_entry = 0;  // link-time entry point, to find the load bias
  std::string original;  // the recorded program's bytes there
};

// Writes DIR/COPY_NAME, a copy of `exe` loading `interp` (a file in the
// trace) through a link DIR/<same-length name>. Returns what to restore in
// memory after the exec; nullopt for a program without PT_INTERP (it is
// copied unchanged).
Expected<std::optional<InterpPatch>> make_exec_copy(const std::string& exe,
                                                    const std::string& interp,
                                                    const std::string& dir,
                                                    const std::string& copy_name);

}  // namespace rrl::replayer
