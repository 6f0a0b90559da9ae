#!/usr/bin/env bash
# Recording and replay overhead of threads and asynchronous events (issue 6):
# each workload runs natively, under `rr-like record` and under
# `rr-like replay -a`, side by side, N times; the table shows the medians, the
# ratios against the native run, and how many events of the trace were placed
# at an arbitrary point (time-slice switches and signals delivered in the
# middle of user code: `"arbitrary_point":true` in `rr-like dump`), which
# replay has to search for.
#
# The last workload is the hot-loop case: a loop interrupted by SIGALRM after
# a couple of seconds (billions of iterations), which replay finds again
# first by breakpoint visits and then by a comparing stub inside the loop
# (replayer/fast_search.cc).
#
# usage: bench/threads_overhead.sh [RR_LIKE] [N]
#   RR_LIKE defaults to build/src/cli/rr-like, N to 3.
# Not a test: nothing here asserts on time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/scripts/lib.sh"
. "$ROOT/bench/lib.sh"

bench_setup "${1:-}" "${2:-}" 3

prepare_workloads() {
  cc -O2 -pthread -o "$W/threads_compute" "$ROOT/bench/programs/threads_compute.c" ||
    fail "cc failed"
  cc -O2 -o "$W/alarm_compute" "$ROOT/bench/programs/alarm_compute.c" || fail "cc failed"
  # 30 MB of semi-compressible data (words from a fixed vocabulary, and a
  # random byte in every line), the same on every run.
  python3 -c "
import random
random.seed(6)
words = [''.join(random.choice('abcdefghijklmnop') for _ in range(random.randint(2, 9))) for _ in range(20000)]
with open('$W/big', 'w') as f:
    n = 0
    while n < 30 * 1024 * 1024:
        line = ' '.join(random.choice(words) for _ in range(10)) + ' %02x\n' % random.randrange(256)
        f.write(line)
        n += len(line)
"
}

# The workloads: name, then the command (run in $W by sh -c).
WORKLOADS=(
  "xz_T2_30mb|xz -T2 -c big > big.xz"
  "threads_4x1s|./threads_compute 4"
  "alarm_loop|./alarm_compute 300"
  "alarm_hot_2s|./alarm_compute 2000"
)


prepare_workloads
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, N=$N"
printf '%-14s %9s %9s %9s %9s %9s %10s\n' workload "native s" "record s" "replay s" rec/n \
  rep/n "arbitrary"
for w in "${WORKLOADS[@]}"; do
  name=${w%%|*}
  cmd=${w#*|}
  native=() rec=() rep=() arb=()
  for _ in $(seq 1 "$N"); do
    native+=("$(timed sh -c "$cmd")")
    rm -rf "$TMP/trace"
    rec+=("$(timed "$RR_LIKE" record -o "$TMP/trace" -- sh -c "$cmd")")
    rep+=("$(timed "$RR_LIKE" replay -a "$TMP/trace")")
    arb+=("$("$RR_LIKE" dump "$TMP/trace" 2> /dev/null | grep -c '"arbitrary_point":true')")
    rm -rf "$TMP/trace"
  done
  n=$(printf '%s\n' "${native[@]}" | median)
  r=$(printf '%s\n' "${rec[@]}" | median)
  p=$(printf '%s\n' "${rep[@]}" | median)
  a=$(printf '%s\n' "${arb[@]}" | median)
  printf '%-14s %9s %9s %9s %9s %9s %10s\n' "$name" "$n" "$r" "$p" "$(ratio "$n" "$r")" \
    "$(ratio "$n" "$p")" "$a"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
