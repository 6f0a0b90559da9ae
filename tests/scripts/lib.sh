# shellcheck shell=bash
# Shared helpers for the rr-like test scripts. Source it; do not run it.
#
# The core is run_and_compare: it runs one command natively and under
# `rr-like record`, with the same stdin, environment and working directory,
# and requires the same exit status and output from both. Adding a replay
# step later means one more run in run_and_compare plus one more
# compare_outputs call (see the note there).

# Fixed inputs every run gets.
export RR_LIKE_TEST_ENV='rr-like-env-value with spaces'
export LC_ALL=C
unset MAKEFLAGS MFLAGS MAKELEVEL

# Extra options for `rr-like record`, e.g. to switch syscall buffering off.
RECORD_FLAGS=${RR_LIKE_RECORD_FLAGS:-}
# Seconds a single run may take before it counts as hung.
RUN_TIMEOUT=${RR_LIKE_RUN_TIMEOUT:-45}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

note() { echo "note: $*" >&2; }

# Creates $TMP (removed on exit) and the fixed stdin file.
setup_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/rrl-harness-XXXXXX") || fail "mktemp failed"
  chmod 755 "$TMP"
  trap 'cleanup_tmp' EXIT
  mkdir -p "$TMP/tmp"
  export TMPDIR="$TMP/tmp"
  STDIN_FILE=$TMP/stdin
  {
    echo "rr-like test input"
    for i in $(seq 1 100); do echo "line $i of the fixed harness input"; done
  } > "$STDIN_FILE"
}

# RR_LIKE_KEEP_TMP=1 keeps the temporary directory for a post-mortem.
cleanup_tmp() {
  [ -n "${TMP:-}" ] && [ -d "$TMP" ] || return 0
  if [ "${RR_LIKE_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $TMP" >&2
    return 0
  fi
  chmod -R u+rwx "$TMP" 2>/dev/null
  rm -rf "$TMP"
}

# Absolute path of an executable given as a path or a command name.
resolve_exe() {
  case $1 in
    */*) readlink -f "$1" ;;
    *) command -v "$1" ;;
  esac
}

# run_one DIR CMD...: runs CMD in $WORKDIR (default $TMP) with the fixed
# stdin, stdout and stderr into DIR/stdout and DIR/stderr, status into
# DIR/status. If $PREPARE names a function, it runs first; if $COLLECT names
# a function, it runs afterwards with DIR as argument (to save artifacts).
run_one() {
  local dir=$1
  shift
  mkdir -p "$dir"
  if [ -n "${PREPARE:-}" ]; then "$PREPARE" || fail "preparing the run failed"; fi
  (cd "${WORKDIR:-$TMP}" && exec timeout -k 5 "$RUN_TIMEOUT" "$@") \
    < "$STDIN_FILE" > "$dir/stdout" 2> "$dir/stderr"
  echo $? > "$dir/status"
  if [ -n "${COLLECT:-}" ]; then "$COLLECT" "$dir" || fail "collecting artifacts failed"; fi
  return 0
}

show_file() {
  echo "---- $1 ($(wc -c < "$2") bytes, first 40 lines) ----" >&2
  head -n 40 "$2" | cut -c1-300 >&2
}

# Splits a recorded run's stderr into the program's own lines
# (DIR/stderr.program) and rr-like's (DIR/stderr.rr-like).
split_stderr() {
  local dir=$1
  grep -v '^rr-like:' "$dir/stderr" > "$dir/stderr.program" || true
  grep '^rr-like:' "$dir/stderr" > "$dir/stderr.rr-like" || true
}

# compare_outputs EXPECTED_STATUS NATIVE_DIR OTHER_DIR LABEL
compare_outputs() {
  local expected=$1 native=$2 other=$3 label=$4 bad=0
  local ns os
  ns=$(cat "$native/status")
  os=$(cat "$other/status")
  if [ "$ns" != "$expected" ]; then
    echo "FAIL: native run exited with $ns, expected $expected" >&2
    show_file "native stdout" "$native/stdout"
    show_file "native stderr" "$native/stderr"
    bad=1
  fi
  if [ "$os" != "$expected" ]; then
    echo "FAIL: $label run exited with $os, expected $expected" >&2
    [ "$os" = 124 ] || [ "$os" = 137 ] && echo "(timed out after ${RUN_TIMEOUT}s?)" >&2
    bad=1
  fi
  split_stderr "$other"
  if grep -q '^rr-like: error' "$other/stderr.rr-like"; then
    echo "FAIL: rr-like reported an error during the $label run:" >&2
    cat "$other/stderr.rr-like" >&2
    bad=1
  elif [ -s "$other/stderr.rr-like" ]; then
    echo "rr-like messages during the $label run:" >&2
    head -n 20 "$other/stderr.rr-like" >&2
  fi
  # Lines starting with "NONDET " may differ from the native run (an iteration
  # count, a thread order), but a replay must repeat the recording's exactly.
  if ! cmp -s <(grep -av '^NONDET ' "$native/stdout") <(grep -av '^NONDET ' "$other/stdout"); then
    echo "FAIL: stdout differs between the native and the $label run:" >&2
    diff -u --label native --label "$label" "$native/stdout" "$other/stdout" | head -n 60 >&2
    bad=1
  fi
  if [ "${label#replay}" != "$label" ] &&
    ! cmp -s <(grep -a '^NONDET ' "$TMP/record/stdout") <(grep -a '^NONDET ' "$other/stdout"); then
    echo "FAIL: the NONDET lines differ between the recording and the $label run:" >&2
    diff -u --label record --label "$label" <(grep -a '^NONDET ' "$TMP/record/stdout") \
      <(grep -a '^NONDET ' "$other/stdout") >&2
    bad=1
  fi
  if ! cmp -s "$native/stderr" "$other/stderr.program"; then
    echo "FAIL: the program's stderr differs between the native and the $label run:" >&2
    diff -u --label native --label "$label" "$native/stderr" "$other/stderr.program" \
      | head -n 60 >&2
    bad=1
  fi
  if [ -f "$native/artifacts" ] && [ "${label#replay}" = "$label" ] && ! cmp -s "$native/artifacts" "$other/artifacts"; then
    echo "FAIL: files the program made differ between the native and the $label run:" >&2
    diff -u --label native --label "$label" "$native/artifacts" "$other/artifacts" >&2
    bad=1
  fi
  if [ "$expected" = 0 ]; then
    for d in "$native" "$other"; do
      if ! grep -qx 'EXIT-SUCCESS' "$d/stdout" && [ "${REQUIRE_EXIT_SUCCESS:-1}" = 1 ]; then
        echo "FAIL: no EXIT-SUCCESS line in the stdout of $d" >&2
        show_file stdout "$d/stdout"
        bad=1
      fi
    done
  fi
  if grep -a -q '^FAIL' "$other/stdout"; then
    echo "FAIL: the program reported a failed check in the $label run:" >&2
    grep -a '^FAIL' "$other/stdout" >&2
    bad=1
  fi
  return $bad
}

# check_dump TRACE_DIR: `rr-like dump` works and shows at least one syscall.
check_dump() {
  local trace=$1
  [ -d "$trace" ] || { echo "FAIL: no trace directory at $trace" >&2; return 1; }
  timeout -k 5 "$RUN_TIMEOUT" "$RR_LIKE" dump "$trace" > "$TMP/dump.out" 2> "$TMP/dump.err"
  local st=$?
  if [ $st != 0 ]; then
    echo "FAIL: rr-like dump exited with $st" >&2
    show_file "dump stderr" "$TMP/dump.err"
    return 1
  fi
  if ! grep -q '"kind" *: *"syscall"' "$TMP/dump.out"; then
    echo "FAIL: rr-like dump printed no syscall event" >&2
    show_file "dump stdout" "$TMP/dump.out"
    return 1
  fi
  echo "dump: $(wc -l < "$TMP/dump.out") events"
}

# replay_and_compare EXPECTED_STATUS TRACE: `rr-like replay -a` must exit 0,
# say that the recorded program exited with EXPECTED_STATUS, and show the same
# stdout and stderr as the native run. Repeated $RR_LIKE_REPLAYS times (default 1).
replay_and_compare() {
  local expected=$1 trace=$2 bad=0 i
  for i in $(seq "${RR_LIKE_REPLAYS:-1}"); do
    # Replay writes no files: there are no artifacts to collect.
    COLLECT='' PREPARE='' run_one "$TMP/replay$i" "$RR_LIKE" replay -a "$trace"
    local st
    st=$(cat "$TMP/replay$i/status")
    if [ "$st" = 0 ] && grep -q "^rr-like: replay finished: the recorded program exited with status $expected\$" \
        "$TMP/replay$i/stderr"; then
      echo "$expected" > "$TMP/replay$i/status"
    else
      echo "FAIL: replay $i exited with $st, or did not report the recorded status $expected" >&2
    fi
    compare_outputs "$expected" "$TMP/native" "$TMP/replay$i" "replay$i" || bad=1
  done
  return $bad
}

# run_and_compare EXPECTED_STATUS CMD...: native run, recorded run,
# comparison, dump check. Requires $RR_LIKE and setup_tmp.
run_and_compare() {
  local expected=$1
  shift
  local trace=$TMP/trace
  run_one "$TMP/native" "$@"
  rm -rf "$trace"
  # shellcheck disable=SC2086
  run_one "$TMP/record" "$RR_LIKE" record $RECORD_FLAGS -o "$trace" -- "$@"
  local bad=0
  compare_outputs "$expected" "$TMP/native" "$TMP/record" record || bad=1
  check_dump "$trace" || bad=1
  if [ "${RR_LIKE_SKIP_REPLAY:-0}" != 1 ] && [ -d "$trace" ]; then
    replay_and_compare "$expected" "$trace" || bad=1
  fi
  if [ $bad = 0 ]; then
    echo "ok: status $expected, stdout $(wc -c < "$TMP/native/stdout") bytes identical"
  fi
  return $bad
}
