// How replay execs the trace's copy of a program so that the new process looks
// exactly as it did when recorded.
//
// The kernel copies the path given to execve onto the new stack (AT_EXECFN),
// so its length shifts everything below it: argv, envp, auxv and the initial
// stack pointer. Replay therefore execs through a relative link, inside a
// private directory that is the replayed processes' working directory, whose
// name has exactly the recorded path's length.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "replayer/exec_copy.h"
#include "trace/events.h"

namespace rrl::replayer {

class ExecLinks {
 public:
  ExecLinks() = default;
  ExecLinks(const ExecLinks&) = delete;
  ExecLinks& operator=(const ExecLinks&) = delete;
  ~ExecLinks();
  // The relative name to exec for `ex`, now pointing at a copy of `target`
  // (the trace's executable) that loads `interp` (the trace's ld.so, or empty).
  // `patch` receives what to restore in memory after the exec.
  Expected<std::string> link_for(const trace::ExecEvent& ex, const std::string& target,
                                 const std::string& interp, std::optional<InterpPatch>* patch);
  const std::string& dir() const { return dir_; }

 private:
  Status ensure_dir();
  std::string dir_;
  // Saved executable -> (its copy for exec, the patch to restore after exec).
  std::map<std::string, std::pair<std::string, std::optional<InterpPatch>>> copies_;
};

// Forks the first replayed process: a fixed layout (no ASLR), rdtsc trapping,
// working directory `dir`, traced, and exec'd through `name`. Its first stop is
// the exec.
Expected<pid_t> spawn_replay_child(const std::string& dir, const std::string& name,
                                   const std::vector<std::string>& argv,
                                   const std::vector<std::string>& envp);

}  // namespace rrl::replayer
