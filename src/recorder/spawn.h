// Starting the recorded program: PATH lookup, the child's set-up (rdtsc trap,
// fixed address-space layout, seccomp filter) and attaching with PTRACE_SEIZE.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace rrl::recorder {

// Like a shell: a name with a slash is used as is, otherwise searched in $PATH.
// Errors name the program and say why it cannot run (missing, not executable).
Expected<std::string> resolve_program(const std::string& name);

// The ptrace options every recorded task carries.
unsigned long recorder_ptrace_options();

// Forks, attaches to the child and lets it exec `path`. On return the child is
// running (not stopped) and traced; its first stop will be the seccomp stop of
// its execve. With syscall_buffer, the seccomp filter lets the preload code's
// untraced syscall instruction through (see src/preload).
Expected<pid_t> spawn_traced(const std::string& path, const std::vector<std::string>& argv,
                             bool syscall_buffer);

}  // namespace rrl::recorder
