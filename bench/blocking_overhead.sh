#!/usr/bin/env bash
# Recording overhead of programs whose syscalls may block (futex, pipes),
# where buffered syscalls that block are taken back by the recorder: each
# workload runs natively, under `rr-like record`, under `rr-like record
# --no-syscall-buffer` and, when OLD_RR_LIKE is given, under that rr-like
# (say, a build from before a change), N times; the table shows medians and
# ratios against native.
#
# usage: bench/blocking_overhead.sh [RR_LIKE] [N] [OLD_RR_LIKE]
#   RR_LIKE defaults to build/src/cli/rr-like, N to 5.
# Not a test: nothing here asserts on time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/scripts/lib.sh"
. "$ROOT/bench/lib.sh"

bench_setup "${1:-}" "${2:-}" 5
OLD=${3:-}
cc -O2 -pthread -o "$W/blocking_heavy" "$ROOT/bench/programs/blocking_heavy.c" || fail "cc failed"
cc -O2 -pthread -I"$ROOT/tests/programs" -o "$W/mutex_stress" "$ROOT/tests/programs/mutex_stress.c" \
  || fail "cc failed"

WORKLOADS=(
  "pipe_pingpong|./blocking_heavy pipe_pingpong 5000"
  "pipe_stream|./blocking_heavy pipe_stream 50000"
  "condvar|./blocking_heavy condvar 5000"
  "mutex_4x200k|./blocking_heavy mutex 200000"
  "mutex_stress|./mutex_stress"
)

# record RR_LIKE [FLAGS...] -- CMD: seconds; leaves the trace in $TMP/trace.
record() {
  local rr=$1
  shift
  rm -rf "$TMP/trace"
  timed "$rr" record "$@" -o "$TMP/trace" -- sh -c "$CMD"
}

printf '%-14s %8s %8s %8s %8s %7s %7s %7s %s\n' workload "native" "buf" "nobuf" "old" \
  buf/n nobuf/n old/n "buffered/aborted/traced"
for w in "${WORKLOADS[@]}"; do
  name=${w%%|*}
  CMD=${w#*|}
  native=() buf=() nobuf=() old=()
  for _ in $(seq 1 "$N"); do
    native+=("$(timed sh -c "$CMD")")
    buf+=("$(record "$RR_LIKE")")
    counts=$("$RR_LIKE" dump "$TMP/trace" 2> /dev/null | awk '
      /"kind":"buffered_syscall"/ { b++ } /"aborted":true/ { a++ } /"kind":"syscall"/ { t++ }
      END { printf "%d/%d/%d", b, a, t }')
    nobuf+=("$(record "$RR_LIKE" --no-syscall-buffer)")
    [ -n "$OLD" ] && old+=("$(record "$OLD")")
  done
  n=$(printf '%s\n' "${native[@]}" | median)
  b=$(printf '%s\n' "${buf[@]}" | median)
  p=$(printf '%s\n' "${nobuf[@]}" | median)
  o=-
  [ -n "$OLD" ] && o=$(printf '%s\n' "${old[@]}" | median)
  printf '%-14s %8s %8s %8s %8s %7s %7s %7s %s\n' "$name" "$n" "$b" "$p" "$o" "$(ratio "$n" "$b")" \
    "$(ratio "$n" "$p")" "$( [ "$o" = - ] && echo - || ratio "$n" "$o")" "$counts"
done
