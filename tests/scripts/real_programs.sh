#!/usr/bin/env bash
# Records a real-world program and compares it with a native run.
#
# usage: real_programs.sh RR_LIKE CASE
# CASE: ls | sh_pipeline | python3 | gzip | make | sqlite3 | gcc
# Same comparison as record_compare.sh (status, stdout, stderr, dump); cases
# that produce files also compare the files' checksums.
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 RR_LIKE CASE" >&2
  exit 2
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/real_cases.sh"

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
CASE=$2
[ -x "$RR_LIKE" ] || fail "rr-like is not executable: $RR_LIKE"

setup_tmp
WORKDIR=$TMP/work
mkdir -p "$WORKDIR"
REQUIRE_EXIT_SUCCESS=0 # real programs do not print EXIT-SUCCESS
export REQUIRE_EXIT_SUCCESS
real_case_setup "$CASE" || exit 1
run_and_compare 0 "${REAL_CMD[@]}"
