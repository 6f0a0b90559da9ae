// Set-up shared by the processes rr-like starts to record or to replay,
// done in the forked child before it execs (async-signal-safe only).
#pragma once

namespace rrl {

// Undoes what rr-like's own signal handling set (handlers, ignored signals,
// the blocked mask: ignored signals would survive the exec), makes the child
// die with rr-like, fixes the address-space layout (no randomisation, so
// replay finds the stack, vdso and libraries where they were) and turns
// rdtsc/rdtscp into SIGSEGV, which the tracer answers.
void prepare_traced_child();

}  // namespace rrl
