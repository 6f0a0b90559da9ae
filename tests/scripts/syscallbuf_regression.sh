#!/usr/bin/env bash
# A syscall-buffering regression (issue 5): records the program, compares
# the recording and a replay with a native run (like record_compare.sh), and
# checks the trace's `rr-like dump` with check_patch_dump.py CASE, all
# RR_LIKE_RECORDS times (default 10).
#
# usage: syscallbuf_regression.sh RR_LIKE PROG_EXE EXPECTED_STATUS CASE
set -u
if [ $# -ne 4 ]; then
  echo "usage: $0 RR_LIKE PROG_EXE EXPECTED_STATUS CASE" >&2
  exit 2
fi
. "$(dirname "$0")/lib.sh"

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
PROG=$(resolve_exe "$2") || fail "program not found: $2"
EXPECTED=$3
CASE=$4
CHECKER=$(dirname "$(readlink -f "$0")")/check_patch_dump.py

setup_tmp
for round in $(seq "${RR_LIKE_RECORDS:-10}"); do
  echo "round $round"
  run_and_compare "$EXPECTED" "$PROG" || exit 1
  python3 "$CHECKER" "$CASE" "$TMP/dump.out" || fail "the dump of round $round fails the $CASE checks"
done
