#!/usr/bin/env bash
# Chaos mode (`rr-like record --chaos`) finds a planted race and the failing
# recording replays.
#
# usage: chaos.sh RR_LIKE PLANTED_RACE_EXE
#
# tests/chaos/planted_race.c loses counter updates only when a thread is
# interrupted between its read and its write while the other one adds. Up to
# 20 recordings with --chaos (a fresh seed each) must include one where the
# program reports the race (exit 1, "RACE: ..."); that trace is then replayed
# three times, each with the recording's exact stdout and exit status. Every
# recording must print its seed, and a recording that did not hit the race
# must have passed its check (anything else is an rr-like failure).
set -u
. "$(dirname "$0")/lib.sh"

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
PROG=$(resolve_exe "$2") || fail "program not found: $2"
setup_tmp

found=""
for i in $(seq 1 20); do
  run_one "$TMP/rec$i" "$RR_LIKE" record --chaos -o "$TMP/trace$i" "$PROG"
  status=$(cat "$TMP/rec$i/status")
  seed=$(sed -n 's/^rr-like: chaos mode, seed \([0-9]*\) .*/\1/p' "$TMP/rec$i/stderr")
  [ -n "$seed" ] || { show_file stderr "$TMP/rec$i/stderr"; fail "recording $i printed no seed"; }
  if [ "$status" = 0 ]; then
    grep -qx EXIT-SUCCESS "$TMP/rec$i/stdout" || fail "recording $i exited 0 without EXIT-SUCCESS"
    echo "recording $i (seed $seed): no race"
    continue
  fi
  if [ "$status" = 1 ] && grep -q '^RACE: ' "$TMP/rec$i/stdout"; then
    echo "recording $i (seed $seed): $(grep '^RACE: ' "$TMP/rec$i/stdout")"
    found=$i
    break
  fi
  show_file stdout "$TMP/rec$i/stdout"
  show_file stderr "$TMP/rec$i/stderr"
  fail "recording $i exited with $status"
done
[ -n "$found" ] || fail "20 recordings with --chaos did not find the planted race"

for r in 1 2 3; do
  run_one "$TMP/replay$r" "$RR_LIKE" replay -a "$TMP/trace$found"
  st=$(cat "$TMP/replay$r/status")
  grep -q '^rr-like: replay finished: the recorded program exited with status 1$' \
    "$TMP/replay$r/stderr" || { show_file stderr "$TMP/replay$r/stderr"; fail "replay $r (exit $st) did not finish as recorded"; }
  cmp -s "$TMP/rec$found/stdout" "$TMP/replay$r/stdout" || {
    diff -u "$TMP/rec$found/stdout" "$TMP/replay$r/stdout" >&2
    fail "replay $r shows another stdout than the failing recording"
  }
done
echo "the failing recording replayed 3 times: $(grep '^RACE: ' "$TMP/replay3/stdout")"

# --chaos=SEED uses that seed.
run_one "$TMP/seeded" "$RR_LIKE" record --chaos=4242 -o "$TMP/seeded-trace" "$PROG"
grep -q '^rr-like: chaos mode, seed 4242 ' "$TMP/seeded/stderr" ||
  { show_file stderr "$TMP/seeded/stderr"; fail "--chaos=4242 did not report seed 4242"; }
echo PASS
