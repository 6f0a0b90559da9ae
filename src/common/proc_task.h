// What /proc says about a task, for the few facts ptrace does not report.
#pragma once

#include <sys/types.h>

namespace rrl {

// The thread-group id of `tid` (tid itself if /proc cannot tell).
pid_t read_tgid(pid_t tid);

// The state letter of /proc/TID/stat ('R', 'S', 'Z', ...), or 0 if gone.
char task_state(pid_t tid);

// Whether the task's process has a handler for `sig` (SigCgt in /proc/TID/status).
bool signal_is_caught(pid_t tid, int sig);

// Waits (up to `timeout_ms`) until `tid` has done its exit work and is a
// zombie or gone. A thread-group leader cannot be reaped while its other
// threads live, but its exit (clearing its CLONE_CHILD_CLEARTID word, waking
// futex waiters) is finished by then.
void wait_for_zombie(pid_t tid, int timeout_ms);

}  // namespace rrl
