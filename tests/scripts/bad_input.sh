#!/usr/bin/env bash
# rr-like's behaviour on bad input and hostile conditions.
#
# usage: bad_input.sh RR_LIKE CASE      (CASE=list prints the cases)
# Cases that need another user (unwritable_trace_dir) or a small file system
# (full_disk) use setpriv or mount/user namespaces; see each case.
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 RR_LIKE CASE" >&2
  exit 2
fi
SCRIPT=$(readlink -f "$0")
. "$(dirname "$SCRIPT")/lib.sh"

CASES=(missing_program not_executable unknown_option_record unknown_option_global
  unknown_subcommand record_without_program unwritable_trace_dir full_disk
  killed_during_recording ctrl_c ctrl_c_process_group dump_nonexistent version record_help
  dump_cat_hostname replay_no_trace replay_unknown_name replay_truncated replay_corrupt
  replay_other_version replay_edited_result replay_bad_debugger replay_bad_port replay_after_deletion
  exec_format_error chaos_bad_seed replay_relative_path)

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
# The trace-damaging test tool (tests/tools/trace_edit.cc), from meson.
TRACE_EDIT=${RR_LIKE_TRACE_EDIT:-}
CASE=$2
if [ "$CASE" = list ]; then
  echo "${CASES[@]}"
  exit 0
fi
[ -x "$RR_LIKE" ] || fail "rr-like is not executable: $RR_LIKE"

# run_rr EXPECT_STATUS ARGS...: runs rr-like into $TMP/out, $TMP/err, $ST.
# EXPECT_STATUS is a number, or "nonzero".
run_rr() {
  local expect=$1
  shift
  timeout -k 5 30 "$RR_LIKE" "$@" < /dev/null > "$TMP/out" 2> "$TMP/err"
  ST=$?
  echo "rr-like $*: exit $ST, stderr: $(head -c 300 "$TMP/err")"
  case $expect in
    nonzero) [ "$ST" != 0 ] || fail "expected a non-zero exit status" ;;
    *) [ "$ST" = "$expect" ] || fail "expected exit status $expect, got $ST" ;;
  esac
  [ "$ST" = 124 ] && fail "rr-like hung (timeout)"
  return 0
}

# expect_error TEXT: stderr has an `rr-like: error` line mentioning TEXT.
expect_error() {
  grep '^rr-like: error' "$TMP/err" | grep -qF -- "$1" ||
    fail "expected an 'rr-like: error' line mentioning '$1' on stderr"
}

# Processes carrying our marker in their environment (rr-like and every
# tracee inherit it), other than the pids given.
marked_pids() {
  local f pid
  for f in $(grep -lzx "RRL_TEST_MARKER=$MARKER" /proc/[0-9]*/environ 2> /dev/null); do
    pid=${f#/proc/}
    pid=${pid%/environ}
    case " $* " in *" $pid "*) continue ;; esac
    echo "$pid"
  done
  pgrep -f -- "$MARKER" || true
}

# Waits up to 5 s until no process of the recording is left; fails naming them.
expect_no_tracees() {
  local left deadline=$((SECONDS + 5))
  while :; do
    left=$(marked_pids | sort -u)
    [ -z "$left" ] && return 0
    [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  for pid in $left; do ps -o pid=,stat=,args= -p "$pid" >&2; done
  # shellcheck disable=SC2086 # a list of pids
  kill -9 $left 2> /dev/null
  fail "processes of the recording outlived rr-like: $(echo "$left" | tr '\n' ' ')"
}

# Starts `rr-like record` of a sleeping loop in the background, in its own
# process group (as a shell with job control does), and waits until the
# trace directory and a tracee exist. Sets RR_PID, TRACE_ROOT, TRACE_NAME.
start_sleeping_recording() {
  MARKER=rrl-marker-$$-$RANDOM$RANDOM
  TRACE_ROOT=$TMP/traces
  TRACE_NAME=interrupted
  mkdir -p "$TRACE_ROOT"
  set -m
  RRL_TEST_MARKER=$MARKER RR_LIKE_TRACE_DIR=$TRACE_ROOT "$RR_LIKE" record \
    -o "$TRACE_ROOT/$TRACE_NAME" -- sh -c 'while :; do sleep 0.05; done' "$MARKER" \
    < /dev/null > "$TMP/out" 2> "$TMP/err" &
  RR_PID=$!
  set +m
  local tracee=
  for _ in $(seq 1 100); do
    tracee=$(marked_pids "$RR_PID" | head -n 1)
    [ -d "$TRACE_ROOT/$TRACE_NAME" ] && [ -n "$tracee" ] && break
    kill -0 "$RR_PID" 2> /dev/null || { cat "$TMP/err" >&2; fail "rr-like exited early"; }
    sleep 0.1
  done
  [ -d "$TRACE_ROOT/$TRACE_NAME" ] || fail "no trace directory appeared within 10 s"
  [ -n "$tracee" ] || fail "the recorded program did not start within 10 s"
  sleep 0.5 # let the recording run a few loop iterations
}

# Waits up to 10 s for rr-like to exit; sets ST to its exit status.
wait_rr_exit() {
  for _ in $(seq 1 100); do
    kill -0 "$RR_PID" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$RR_PID" 2> /dev/null; then
    kill -9 "$RR_PID"
    wait "$RR_PID"
    fail "rr-like did not exit within 10 s"
  fi
  wait "$RR_PID"
  ST=$?
  echo "rr-like exited with $ST; stderr: $(head -c 300 "$TMP/err")"
}

# `rr-like ls` lists the interrupted trace as incomplete, and `rr-like dump`
# refuses it or says it is incomplete.
expect_incomplete_trace() {
  RR_LIKE_TRACE_DIR=$TRACE_ROOT timeout 30 "$RR_LIKE" ls > "$TMP/ls.out" 2> "$TMP/ls.err" ||
    fail "rr-like ls failed: $(cat "$TMP/ls.err")"
  echo "rr-like ls:"
  cat "$TMP/ls.out"
  grep -w -- "$TRACE_NAME" "$TMP/ls.out" | grep -qw incomplete ||
    fail "rr-like ls does not list '$TRACE_NAME' as incomplete"
  timeout 30 "$RR_LIKE" dump "$TRACE_ROOT/$TRACE_NAME" > "$TMP/dump.out" 2> "$TMP/dump.err"
  local st=$?
  if [ $st = 0 ] && ! grep -qi incomplete "$TMP/dump.out" "$TMP/dump.err"; then
    fail "rr-like dump of an incomplete trace exited 0 without saying it is incomplete"
  fi
  echo "rr-like dump: exit $st"
  timeout 30 "$RR_LIKE" replay -a "$TRACE_ROOT/$TRACE_NAME" > "$TMP/replay.out" 2> "$TMP/replay.err"
  st=$?
  [ $st != 0 ] || fail "rr-like replay of an incomplete trace exited 0"
  grep -q '^rr-like: error.*incomplete' "$TMP/replay.err" ||
    fail "rr-like replay of an incomplete trace did not say it is incomplete: $(cat "$TMP/replay.err")"
  echo "rr-like replay: exit $st"
}

case_missing_program() {
  run_rr nonzero record -o "$TMP/t1" /nonexistent/rrl-program
  expect_error /nonexistent/rrl-program
  run_rr nonzero record -o "$TMP/t2" -- rrl-no-such-command-in-path
  expect_error rrl-no-such-command-in-path
}

case_not_executable() {
  printf '#!/bin/sh\necho should not run\n' > "$TMP/not-executable"
  chmod 644 "$TMP/not-executable"
  run_rr nonzero record -o "$TMP/t" "$TMP/not-executable"
  expect_error "$TMP/not-executable"
  ! grep -q 'should not run' "$TMP/out" || fail "the file ran"
}

# Executable, but not a format the kernel runs: a shell-like message and 126.
case_exec_format_error() {
  head -c 200 /dev/urandom > "$TMP/garbage"
  printf 'XXXX' | dd of="$TMP/garbage" conv=notrunc 2> /dev/null # never an ELF or #! by chance
  chmod 755 "$TMP/garbage"
  run_rr 126 record -o "$TMP/t" "$TMP/garbage"
  expect_error "$TMP/garbage"
  grep -q 'Exec format error' "$TMP/err" || fail "the message does not give the reason"
}

case_unknown_option_record() {
  run_rr 2 record --bogus true
  expect_error --bogus
}

case_chaos_bad_seed() {
  run_rr 2 record --chaos=soon true
  expect_error "needs a number as its seed, not 'soon'"
}

case_unknown_option_global() {
  run_rr 2 --bogus
  expect_error --bogus
}

case_unknown_subcommand() {
  run_rr 2 rrl-bogus-subcommand
  expect_error rrl-bogus-subcommand
}

case_record_without_program() {
  run_rr 2 record
  grep -q '^rr-like: error' "$TMP/err" || fail "expected an 'rr-like: error' line"
}

# As root, permissions do not apply: run rr-like as nobody then.
case_unwritable_trace_dir() {
  local ro=$TMP/read-only
  mkdir -p "$ro"
  local as_user=()
  if [ "$(id -u)" = 0 ]; then
    local group
    group=$(id -gn nobody 2> /dev/null) || fail "user nobody is missing"
    chown nobody: "$ro"
    as_user=(setpriv --reuid=nobody --regid="$group" --clear-groups)
    "${as_user[@]}" test -x "$RR_LIKE" ||
      fail "user nobody cannot execute $RR_LIKE: make the build directory world-readable"
  fi
  chmod 500 "$ro"
  mkdir -m 1777 "$TMP/scratch"
  timeout -k 5 30 "${as_user[@]}" "$RR_LIKE" record -o "$ro/trace" -- \
    sh -c "echo ran > '$TMP/scratch/ran'" < /dev/null > "$TMP/out" 2> "$TMP/err"
  ST=$?
  echo "exit $ST, stderr: $(head -c 300 "$TMP/err")"
  [ "$ST" != 0 ] || fail "expected a non-zero exit status"
  expect_error "$ro"
  [ ! -e "$ro/trace" ] || fail "a trace directory was created in a read-only directory"
  [ ! -e "$TMP/scratch/ran" ] || note "the program ran although the trace could not be written"
}

# A 512 KB tmpfs in a private mount namespace (root: unshare -m; otherwise a
# user namespace: unshare -Urm). Without either the case cannot run.
case_full_disk() {
  local how=(unshare -m)
  [ "$(id -u)" = 0 ] || how=(unshare -Urm)
  "${how[@]}" true 2> /dev/null ||
    fail "full_disk needs root or unprivileged user namespaces ('${how[*]}' failed)"
  RRL_FULL_DISK_DIR=$TMP/small "${how[@]}" -- bash "$SCRIPT" "$RR_LIKE" full_disk_inner
  local st=$?
  [ $st = 0 ] || exit $st
}

case_full_disk_inner() {
  local dir=$RRL_FULL_DISK_DIR
  mkdir -p "$dir"
  mount -t tmpfs -o size=512k tmpfs "$dir" || fail "mounting a tmpfs failed"
  MARKER=rrl-marker-$$-$RANDOM$RANDOM
  # 8 MB of random bytes read by the program: their record cannot fit.
  local start=$SECONDS
  RRL_TEST_MARKER=$MARKER timeout -k 5 35 "$RR_LIKE" record -o "$dir/trace" -- \
    sh -c 'head -c 8000000 /dev/urandom > /dev/null; echo finished' "$MARKER" \
    < /dev/null > "$TMP/out" 2> "$TMP/err"
  ST=$?
  echo "exit $ST after $((SECONDS - start)) s, stderr: $(head -c 300 "$TMP/err")"
  expect_no_tracees
  [ $((SECONDS - start)) -lt 35 ] || fail "rr-like hung on a full file system (killed after 35 s)"
  [ "$ST" != 0 ] || fail "recording onto a full file system exited 0"
  grep -Eqi 'no space left|disk full' "$TMP/err" ||
    fail "expected a message containing 'No space left' or 'disk full'"
  umount "$dir"
}

case_killed_during_recording() {
  start_sleeping_recording
  kill -9 "$RR_PID"
  wait "$RR_PID"
  expect_no_tracees
  expect_incomplete_trace
}

# SIGINT to rr-like alone.
case_ctrl_c() {
  start_sleeping_recording
  kill -INT "$RR_PID"
  wait_rr_exit
  expect_no_tracees
  [ "$ST" != 0 ] || fail "rr-like exited 0 after SIGINT"
  expect_incomplete_trace
}

# SIGINT to the whole process group, as a terminal's Ctrl-C does: the
# program may die of it (then the trace may be complete), but rr-like must
# exit non-zero and leave nothing behind.
case_ctrl_c_process_group() {
  start_sleeping_recording
  kill -INT -- "-$RR_PID"
  wait_rr_exit
  expect_no_tracees
  [ "$ST" != 0 ] || fail "rr-like exited 0 after SIGINT"
  RR_LIKE_TRACE_DIR=$TRACE_ROOT timeout 30 "$RR_LIKE" ls > "$TMP/ls.out" 2>&1 ||
    fail "rr-like ls failed: $(cat "$TMP/ls.out")"
  grep -qw -- "$TRACE_NAME" "$TMP/ls.out" || fail "rr-like ls does not list the trace"
}

case_dump_nonexistent() {
  run_rr nonzero dump "$TMP/rrl-no-such-trace"
  expect_error rrl-no-such-trace
}

# `rr-like dump` of `cat /etc/hostname` shows openat, read and write with
# their results as JSON lines.
case_dump_cat_hostname() {
  [ -r /etc/hostname ] || fail "/etc/hostname is missing on this machine"
  # Through a pipe, so that cat reads and writes (to a file it would use
  # copy_file_range, which the dump shows too, but this checks read/write).
  "$RR_LIKE" record -o "$TMP/cat" cat /etc/hostname 2> "$TMP/err" | cat > "$TMP/cat.out"
  cmp -s "$TMP/cat.out" /etc/hostname || fail "cat printed something else under recording"
  run_rr 0 dump "$TMP/cat"
  python3 - "$TMP/out" "$(wc -c < /etc/hostname)" << 'PY' || fail "the dump does not show cat's syscalls"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
size = int(sys.argv[2])
assert [e["event"] for e in events] == list(range(len(events))), "events are not numbered in order"
# Reads are buffered (made by the preload code, no stop), as a preadv2 that
# must not wait (RWF_NOWAIT, flag 8) when the buffer is on.
calls = [e for e in events if e["kind"] in ("syscall", "buffered_syscall")]
for c in calls:
    if c["syscall"] == "preadv2" and c["args"][5] == 8:
        c["syscall"] = "read"
def find(name, pred):
    hits = [c for c in calls if c["syscall"] == name and pred(c)]
    assert hits, f"no {name} matching the expectation"
    return hits[0]
find("openat", lambda c: c["result"] >= 3)
read = find("read", lambda c: c["result"] == size)
assert read["bytes_written"] == size and read["writes"][0]["len"] == size, read
find("write", lambda c: c["args"][0] == 1 and c["result"] == size)
print("openat, read and write of", size, "bytes found in", len(events), "events")
PY
}

# A recording of `cat /etc/hostname` to damage in the replay cases. Its
# stdout is a pipe, so cat reads into memory and writes from there.
record_cat() {
  "$RR_LIKE" record -o "$TMP/good" cat /etc/hostname 2> "$TMP/err" | cat > "$TMP/cat.out"
  cmp -s "$TMP/cat.out" /etc/hostname || fail "cat printed something else under recording"
  "$RR_LIKE" replay -a "$TMP/good" 2> "$TMP/err" | cat > "$TMP/replay.out"
  cmp -s "$TMP/replay.out" /etc/hostname ||
    fail "the replay of the good trace printed something else: $(cat "$TMP/err")"
}

case_replay_no_trace() {
  mkdir -p "$TMP/empty-root"
  RR_LIKE_TRACE_DIR=$TMP/empty-root run_rr nonzero replay -a
  expect_error "no traces"
}

case_replay_unknown_name() {
  mkdir -p "$TMP/empty-root"
  RR_LIKE_TRACE_DIR=$TMP/empty-root run_rr nonzero replay -a rrl-no-such-trace
  expect_error rrl-no-such-trace
}

case_replay_truncated() {
  record_cat
  local size
  size=$(stat -c %s "$TMP/good/events")
  for cut in 0 10 $((size / 2)) $((size - 3)); do
    rm -rf "$TMP/bad" && cp -r "$TMP/good" "$TMP/bad"
    truncate -s "$cut" "$TMP/bad/events"
    run_rr nonzero replay -a "$TMP/bad"
    grep -q '^rr-like: error' "$TMP/err" || fail "no error message for a trace cut at $cut bytes"
  done
}

case_replay_corrupt() {
  record_cat
  rm -rf "$TMP/bad" && cp -r "$TMP/good" "$TMP/bad"
  local size
  size=$(stat -c %s "$TMP/bad/events")
  printf '\xff\x00\xff' | dd of="$TMP/bad/events" bs=1 seek=$((size / 2)) conv=notrunc 2> /dev/null
  run_rr nonzero replay -a "$TMP/bad"
  expect_error "damaged"
}

case_replay_other_version() {
  record_cat
  rm -rf "$TMP/bad" && cp -r "$TMP/good" "$TMP/bad"
  # The version is the u32 right after the 8-byte magic.
  printf '\x63' | dd of="$TMP/bad/header" bs=1 seek=8 conv=notrunc 2> /dev/null
  run_rr nonzero replay -a "$TMP/bad"
  expect_error "version 99"
}

# One recorded syscall result changed: replay must not succeed silently.
case_replay_edited_result() {
  [ -x "$TRACE_EDIT" ] || fail "RR_LIKE_TRACE_EDIT does not name the trace_edit tool"
  record_cat
  # With syscall buffering, cat's reads are made as preadv2 (preload.c).
  "$TRACE_EDIT" "$TMP/good" "$TMP/bad" preadv2 -1 2> /dev/null ||
    { rm -rf "$TMP/bad" && "$TRACE_EDIT" "$TMP/good" "$TMP/bad" read -1; } || fail "trace_edit failed"
  run_rr nonzero replay -a "$TMP/bad"
  expect_error "diverged"
}

# The trace is self-contained: the program, its dynamic loader, its own
# shared library and its input file may change or vanish after recording.
# A trace named by a relative path (replay makes links into it).
case_replay_relative_path() {
  mkdir -p "$TMP/rel"
  (cd "$TMP/rel" && "$RR_LIKE" record -o t1 /bin/echo relative > /dev/null 2>&1) ||
    fail "recording failed"
  (cd "$TMP/rel" && timeout -k 5 30 "$RR_LIKE" replay -a t1 > "$TMP/out" 2> "$TMP/err")
  ST=$?
  [ "$ST" = 0 ] || fail "replay of ./t1 exited with $ST: $(cat "$TMP/err")"
  grep -qx relative "$TMP/out" || fail "replay of ./t1 did not show the output"
}

case_replay_after_deletion() {
  local d=$TMP/app
  mkdir -p "$d"
  cat > "$d/lib.c" << 'C'
int scale(int x) { return x * 7; }
C
  cat > "$d/main.c" << 'C'
#include <stdio.h>
int scale(int x);
int main(int argc, char** argv) {
  FILE* f = fopen(argv[1], "r");
  int v = 0;
  if (!f || fscanf(f, "%d", &v) != 1) return 2;
  printf("scaled %d\n", scale(v));
  return 0;
}
C
  gcc -shared -fPIC -o "$d/libscale.so" "$d/lib.c" || fail "gcc failed"
  # Its own copy of the dynamic loader, which will vanish too.
  local ld
  ld=$(readlink -f "$(gcc -print-file-name=ld-linux-x86-64.so.2)")
  [ -f "$ld" ] || ld=$(readlink -f /lib64/ld-linux-x86-64.so.2)
  cp "$ld" "$d/ld-copy.so" || fail "cannot copy the dynamic loader"
  gcc -o "$d/app" "$d/main.c" -L"$d" -lscale -Wl,-rpath,"$d" \
    -Wl,--dynamic-linker="$d/ld-copy.so" || fail "gcc failed"
  echo 6 > "$d/input.txt"
  "$RR_LIKE" record -o "$TMP/t" "$d/app" "$d/input.txt" > "$TMP/rec.out" 2> "$TMP/err" ||
    fail "recording failed: $(cat "$TMP/err")"
  [ "$(cat "$TMP/rec.out")" = "scaled 42" ] || fail "unexpected output: $(cat "$TMP/rec.out")"
  # Change the library and the input, delete the program.
  echo 'int scale(int x) { return x + 1000; }' > "$d/lib.c"
  gcc -shared -fPIC -o "$d/libscale.so" "$d/lib.c" || fail "gcc failed"
  echo 9 > "$d/input.txt"
  rm -f "$d/app" "$d/ld-copy.so"
  "$RR_LIKE" replay -a "$TMP/t" > "$TMP/rep.out" 2> "$TMP/err" ||
    fail "replay failed: $(cat "$TMP/err")"
  [ "$(cat "$TMP/rep.out")" = "scaled 42" ] || fail "the replay printed: $(cat "$TMP/rep.out")"
}

case_replay_bad_debugger() {
  record_cat
  run_rr nonzero replay --debugger /nonexistent/gdb "$TMP/good"
  expect_error "debugger"
}

case_replay_bad_port() {
  record_cat
  run_rr 2 replay -s notaport "$TMP/good"
  expect_error "needs a number"
}

case_version() {
  run_rr 0 --version
  grep -q '[0-9]' "$TMP/out" || fail "--version printed no version number"
}

case_record_help() {
  run_rr 0 record --help
  grep -qi 'record' "$TMP/out" "$TMP/err" || fail "record --help printed no usage"
}

case " ${CASES[*]} full_disk_inner " in
  *" $CASE "*) ;;
  *) fail "unknown case '$CASE' (known: ${CASES[*]})" ;;
esac
if [ "$CASE" = full_disk_inner ]; then
  TMP=$(dirname "$RRL_FULL_DISK_DIR")
  case_full_disk_inner
else
  setup_tmp
  chmod 755 "$TMP/tmp"
  "case_$CASE"
fi
echo "ok: $CASE"
