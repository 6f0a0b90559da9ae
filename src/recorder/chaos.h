// Chaos mode (`rr-like record --chaos[=SEED]`): the scheduler's free choices
// are made at random, to shake out concurrency bugs that rr-like's calm
// schedule (one task runs until it blocks or its 50 ms slice ends) hides.
//
// The choices, all free in the sense that any of them is a schedule the real
// program could have seen on some machine:
//   - the length of each stretch of user code a task may run while others are
//     ready (a time slice): mostly short, sometimes long, so that a task is
//     interrupted at arbitrary points of its loops (and a few random
//     single-steps further, because interrupts favour some instructions);
//   - whether a task that finishes a syscall goes on or lets the others run
//     first (a thread creator lets its new thread run before it);
//   - which ready task goes next.
// Nothing needs recording beyond what the trace already holds: the decisions
// show as the order of events and as interrupted (SchedEvent) points, which
// replay follows like any others. The seed is printed and stored in the trace
// header; `--chaos=SEED` makes the same sequence of random decisions (where
// they land still depends on timing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

namespace rrl::recorder {

class Chaos {
 public:
  explicit Chaos(uint64_t seed) : rng_(seed) {}

  // A new random seed (getrandom, else the clock).
  static uint64_t fresh_seed();

  // The time slice for the next stretch of user code, in milliseconds.
  int64_t slice_ms();
  // Whether a task that just finished a syscall gives way to the ready ones.
  bool yield_after_syscall();
  // How many instructions an interrupted task goes on before its stop point
  // is fixed (interrupts themselves land on few instructions of a loop).
  int extra_steps() { return static_cast<int>(below(16)); }
  // Which of `n` (> 0) candidates goes next.
  size_t pick(size_t n);

 private:
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  std::mt19937_64 rng_;
};

}  // namespace rrl::recorder
