#!/usr/bin/env bash
# Recording overhead with and without syscall buffering: each workload runs
# natively, under `rr-like record` (buffering on, the default) and under
# `rr-like record --no-syscall-buffer`, side by side, N times; the table shows
# the medians and the ratios against the native run. Targets (issue 5):
# record/native with buffering <= 2x on the syscall-heavy program, <= 1.2x
# on gzip.
#
# usage: bench/syscallbuf_overhead.sh [RR_LIKE] [N]
#   RR_LIKE defaults to build/src/cli/rr-like, N to 3.
# Not a test: nothing here asserts on time.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/scripts/lib.sh"
. "$ROOT/bench/lib.sh"

bench_setup "${1:-}" "${2:-}" 3

prepare_workloads() {
  cc -O2 -o "$W/syscall_heavy" "$ROOT/bench/programs/syscall_heavy.c" || fail "cc failed"
  # A 5,000-file tree for cp -r.
  mkdir -p "$W/tree"
  for d in $(seq 1 50); do
    mkdir -p "$W/tree/d$d"
    for f in $(seq 1 100); do echo "file $d/$f" > "$W/tree/d$d/f$f"; done
  done
  # 30 MB of compressible but not trivial data for gzip.
  python3 -c "
import random
random.seed(5)
words = [''.join(random.choice('abcdefghij') for _ in range(random.randint(2, 9))) for _ in range(5000)]
with open('$W/big', 'w') as f:
    n = 0
    while n < 30 * 1024 * 1024:
        line = ' '.join(random.choice(words) for _ in range(12)) + '\n'
        f.write(line)
        n += len(line)
"
  # A small C project for make -j2.
  mkdir -p "$W/proj"
  for i in $(seq 1 12); do
    printf 'int f%d(int x) { int s = 0; for (int i = 0; i < x; ++i) s += i * %d; return s; }\n' "$i" "$i" > "$W/proj/f$i.c"
  done
  {
    printf '#include <stdio.h>\n'
    for i in $(seq 1 12); do printf 'int f%d(int);\n' "$i"; done
    printf 'int main(void) { int s = 0;\n'
    for i in $(seq 1 12); do printf 's += f%d(10);\n' "$i"; done
    printf 'printf("%%d\\n", s); return 0; }\n'
  } > "$W/proj/main.c"
  {
    printf 'OBJS = main.o'
    for i in $(seq 1 12); do printf ' f%d.o' "$i"; done
    printf '\napp: $(OBJS)\n\tcc -o $@ $(OBJS)\n%%.o: %%.c\n\tcc -O1 -c $<\nclean:\n\trm -f app *.o\n'
  } > "$W/proj/Makefile"
}

# The workloads: name, then the command (run in $W by sh -c).
WORKLOADS=(
  "syscall_heavy|./syscall_heavy $W 200000"
  "find_usr|find /usr -type f | wc -l"
  "cp_r_5000|rm -rf tree.copy && cp -r tree tree.copy"
  "gzip_30mb|gzip -c big > big.gz"
  "make_j2|make -s -C proj clean && make -s -j2 -C proj"
)


prepare_workloads
printf '%-14s %9s %9s %9s %9s %9s %8s\n' workload "native s" "buf s" "nobuf s" buf/n nobuf/n "buffered"
for w in "${WORKLOADS[@]}"; do
  name=${w%%|*}
  cmd=${w#*|}
  native=() buf=() nobuf=()
  for _ in $(seq 1 "$N"); do
    native+=("$(timed sh -c "$cmd")")
    rm -rf "$TMP/trace"
    buf+=("$(timed "$RR_LIKE" record -o "$TMP/trace" -- sh -c "$cmd")")
    buffered=$("$RR_LIKE" dump "$TMP/trace" 2> /dev/null | grep -c '"kind":"buffered_syscall"')
    traced=$("$RR_LIKE" dump "$TMP/trace" 2> /dev/null | grep -c '"kind":"syscall"')
    rm -rf "$TMP/trace"
    nobuf+=("$(timed "$RR_LIKE" record --no-syscall-buffer -o "$TMP/trace" -- sh -c "$cmd")")
    rm -rf "$TMP/trace"
  done
  n=$(printf '%s\n' "${native[@]}" | median)
  b=$(printf '%s\n' "${buf[@]}" | median)
  p=$(printf '%s\n' "${nobuf[@]}" | median)
  printf '%-14s %9s %9s %9s %9s %9s %8s\n' "$name" "$n" "$b" "$p" "$(ratio "$n" "$b")" \
    "$(ratio "$n" "$p")" "$buffered/$((buffered + traced))"
done
