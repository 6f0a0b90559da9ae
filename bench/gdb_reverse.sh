#!/usr/bin/env bash
# Reverse execution cost: a program with about 100,000 events, debugged with
# gdb; times a forward continue to near the end, reverse-continue a short way
# back (a breakpoint hit near the end) and a long way back (near the start),
# and a forward continue to the end. `replay -a` of the whole trace is the
# cost of replaying from the start, for comparison.
#
# usage: bench/gdb_reverse.sh [RR_LIKE]
# Not a test: nothing here asserts on time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RR_LIKE=$(readlink -f "${1:-$ROOT/build/src/cli/rr-like}")
[ -x "$RR_LIKE" ] || { echo "rr-like not found: $RR_LIKE" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rrl-bench-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

gcc -O0 -g -o "$TMP/reverse_target" "$ROOT/bench/reverse_target.c" || exit 1
"$RR_LIKE" record -o "$TMP/trace" "$TMP/reverse_target" > /dev/null 2>&1 || exit 1
events=$("$RR_LIKE" dump "$TMP/trace" | wc -l)
start=$EPOCHREALTIME
"$RR_LIKE" replay -a "$TMP/trace" > /dev/null 2>&1
end=$EPOCHREALTIME
full=$(echo "$end - $start" | bc)

timed() {
  echo "python import time; t0 = time.time()"
  echo "$1"
  echo "python print('TIME %-40s %.3f' % ('$1 ($2)', time.time() - t0))"
}
{
  echo "break finish_line"
  timed "continue" "forward, start to near the end"
  echo "break near_end"
  timed "reverse-continue" "back a short way"
  echo "delete"
  echo "break near_start"
  timed "reverse-continue" "back to near the start"
  echo "delete"
  timed "continue" "forward to the end"
} > "$TMP/cmds.gdb"
"$RR_LIKE" replay "$TMP/trace" -- -batch -nx -x "$TMP/cmds.gdb" > "$TMP/gdb.out" 2>&1
[ -n "${RR_LIKE_BENCH_SHOW:-}" ] && cat "$TMP/gdb.out"
echo "events in the trace: $events; replay -a of the whole trace: ${full} s"
grep '^TIME' "$TMP/gdb.out" | sed 's/^TIME //' || cat "$TMP/gdb.out"
