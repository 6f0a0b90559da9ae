#!/usr/bin/env bash
# Recording and replay overhead on real programs: each runs natively, under
# `rr-like record` and under `rr-like replay -a`, side by side, N times; the
# table shows the medians and the ratios against the native run.
#
# usage: bench/record_overhead.sh [RR_LIKE] [N]
#   RR_LIKE defaults to build/src/cli/rr-like, N to 3.
# Not a test: nothing here asserts on time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/scripts/lib.sh"
. "$ROOT/tests/scripts/real_cases.sh"

RR_LIKE=$(resolve_exe "${1:-$ROOT/build/src/cli/rr-like}") || fail "rr-like not found: ${1:-}"
N=${2:-3}
[ -x "$RR_LIKE" ] || fail "rr-like is not executable: $RR_LIKE (build it or pass its path)"

setup_tmp
WORKDIR=$TMP/work
mkdir -p "$WORKDIR"

# timed_run CMD...: seconds the command took, on stdout; its output is dropped.
timed_run() {
  [ -n "${PREPARE:-}" ] && "$PREPARE"
  local start=$EPOCHREALTIME
  (cd "$WORKDIR" && exec "$@") < "$STDIN_FILE" > /dev/null 2> "$TMP/stderr"
  local st=$?
  local end=$EPOCHREALTIME
  if [ $st != 0 ]; then
    echo "warning: '$1' exited with $st: $(head -c 200 "$TMP/stderr")" >&2
  fi
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-12s %9s %9s %9s %8s %8s %8s\n' program "native s" "record s" "replay s" record/n replay/n events
for c in $REAL_CASES; do
  [ "$c" = gcc ] && continue # not in the benchmark set
  real_case_setup "$c" || continue
  native=()
  recorded=()
  replayed=()
  for _ in $(seq 1 "$N"); do
    native+=("$(timed_run "${REAL_CMD[@]}")")
    rm -rf "$TMP/trace"
    # shellcheck disable=SC2086
    recorded+=("$(timed_run "$RR_LIKE" record $RECORD_FLAGS -o "$TMP/trace" -- "${REAL_CMD[@]}")")
    replayed+=("$(PREPARE='' timed_run "$RR_LIKE" replay -a "$TMP/trace")")
  done
  events=$("$RR_LIKE" dump "$TMP/trace" 2> /dev/null | wc -l)
  rm -rf "$TMP/trace"
  n=$(printf '%s\n' "${native[@]}" | median)
  r=$(printf '%s\n' "${recorded[@]}" | median)
  p=$(printf '%s\n' "${replayed[@]}" | median)
  ratio() { awk -v n="$1" -v r="$2" 'BEGIN { if (n > 0) printf "%.1f", r / n; else print "-" }'; }
  printf '%-12s %9s %9s %9s %8s %8s %8s\n' "$c" "$n" "$r" "$p" "$(ratio "$n" "$r")" "$(ratio "$n" "$p")" "$events"
done
