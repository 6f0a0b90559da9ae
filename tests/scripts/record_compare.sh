#!/usr/bin/env bash
# Records one test program and compares the recorded run with a native run.
#
# usage: record_compare.sh RR_LIKE PROG_EXE EXPECTED_STATUS [ARGS...]
#
# Both runs get the same fixed stdin and environment. Passes when both exit
# with EXPECTED_STATUS, stdout and the program's stderr are identical, stdout
# has EXIT-SUCCESS (when EXPECTED_STATUS is 0), rr-like reported no error,
# and `rr-like dump` of the trace shows syscalls.
# Environment: RR_LIKE_RECORD_FLAGS (extra record options),
# RR_LIKE_RUN_TIMEOUT (seconds per run, default 45), RR_LIKE_RECORDS (how
# many times to record, replay and compare; default 1).
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 RR_LIKE PROG_EXE EXPECTED_STATUS [ARGS...]" >&2
  exit 2
fi
. "$(dirname "$0")/lib.sh"

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
PROG=$(resolve_exe "$2") || fail "program not found: $2"
EXPECTED=$3
shift 3
[ -x "$RR_LIKE" ] || fail "rr-like is not executable: $RR_LIKE"
[ -x "$PROG" ] || fail "program is not executable: $PROG"

setup_tmp
for round in $(seq "${RR_LIKE_RECORDS:-1}"); do
  [ "${RR_LIKE_RECORDS:-1}" = 1 ] || echo "round $round"
  run_and_compare "$EXPECTED" "$PROG" "$@" || exit 1
done
