# shellcheck shell=bash
# Helpers shared by the overhead benches (source after tests/scripts/lib.sh;
# `timed` needs $W, the workload directory, and $TMP).

# bench_setup RR_LIKE_ARG N_ARG DEFAULT_N: sets RR_LIKE (default: the build's
# rr-like), N, and a scratch workload directory $W under $TMP.
bench_setup() {
  RR_LIKE=$(resolve_exe "${1:-$ROOT/build/src/cli/rr-like}") || fail "rr-like not found: ${1:-}"
  N=${2:-$3}
  [ -x "$RR_LIKE" ] || fail "rr-like is not executable: $RR_LIKE (build it or pass its path)"
  setup_tmp
  W=$TMP/work
  mkdir -p "$W"
}

# timed CMD...: seconds the command took in $W (output dropped).
timed() {
  local start=$EPOCHREALTIME
  (cd "$W" && "$@") < /dev/null > /dev/null 2> "$TMP/stderr"
  local st=$?
  local end=$EPOCHREALTIME
  [ $st = 0 ] || echo "warning: '$*' exited with $st: $(head -c 300 "$TMP/stderr")" >&2
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

# median < numbers, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# ratio NATIVE OTHER: OTHER / NATIVE with two decimals.
ratio() { awk -v n="$1" -v r="$2" 'BEGIN { if (n > 0) printf "%.2f", r / n; else print "-" }'; }
