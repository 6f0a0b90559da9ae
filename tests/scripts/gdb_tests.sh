#!/usr/bin/env bash
# Layer 3: real gdb, in batch mode, against `rr-like replay`. Each case
# records one of the programs in tests/gdb, runs gdb on the replay with a
# list of commands, and requires lines of gdb's own output, in order.
#
# usage: gdb_tests.sh RR_LIKE PROGRAM_DIR CASE
set -u
. "$(dirname "$0")/lib.sh"

CASES=(break_args print_locals watch_values threads fork_child exit_status
  reverse_continue_breakpoint reverse_continue_watch reverse_finish reverse_step
  reverse_from_checkpoints history_start checkpoint_restart goto_event_stepi second_client bad_packets disconnect)

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
PROGRAMS=$2
CASE=$3
if [ "$CASE" = list ]; then
  echo "${CASES[@]}"
  exit 0
fi
command -v gdb > /dev/null || fail "gdb is not installed"

# RRL_GDB_AS_NOBODY=1: run the case as the unprivileged user `nobody`
# (when started as root), to prove that debugging needs no privileges.
if [ "${RRL_GDB_AS_NOBODY:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
  GROUP=$(id -gn nobody) || fail "user nobody is missing"
  HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rrl-nobody-XXXXXX") || fail "mktemp failed"
  trap 'rm -rf "$HOME_DIR"' EXIT
  chmod 755 "$HOME_DIR"
  chown nobody: "$HOME_DIR"
  setpriv --reuid=nobody --regid="$GROUP" --clear-groups \
    env HOME="$HOME_DIR" TMPDIR="$HOME_DIR" RRL_GDB_AS_NOBODY=running \
    bash "$(readlink -f "$0")" "$RR_LIKE" "$PROGRAMS" "$CASE"
  exit $?
fi
if [ "${RRL_GDB_AS_NOBODY:-0}" = running ]; then
  [ "$(id -u)" != 0 ] || fail "still root"
  echo "running as $(id -un)"
fi
setup_tmp
export RR_LIKE_TRACE_DIR=$TMP/traces
# rr-like runs with this in its environment, and so do gdb and the tracees.
MARK="rrl-gdb-test-$$-$RANDOM"
GDB_TIMEOUT=${RR_LIKE_GDB_TIMEOUT:-120}

# record PROGRAM: records tests/gdb/PROGRAM into $TRACE.
record() {
  TRACE=$TMP/trace-$1
  RRL_TEST_MARKER=$MARK "$RR_LIKE" record -o "$TRACE" "$PROGRAMS/$1" > "$TMP/record.out" 2> "$TMP/record.err" ||
    [ -d "$TRACE" ] || fail "recording $1 failed: $(cat "$TMP/record.err")"
}

# debug [REPLAY-OPTIONS...] -- GDB-COMMANDS...: gdb's output in $TMP/gdb.out.
debug() {
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  shift
  local args=(-batch -nx)
  local c
  for c in "$@"; do args+=(-ex "$c"); done
  RRL_TEST_MARKER=$MARK timeout "$GDB_TIMEOUT" "$RR_LIKE" replay "${opts[@]}" "$TRACE" -- "${args[@]}" \
    > "$TMP/gdb.out" 2>&1 < /dev/null
  local st=$?
  [ $st = 124 ] && fail "gdb or rr-like hung; output: $(tail -20 "$TMP/gdb.out")"
  return 0
}

# expect_lines REGEX...: each regex matches a line of gdb's output, in order.
expect_lines() {
  local line=0 re n
  for re in "$@"; do
    n=$(tail -n +"$((line + 1))" "$TMP/gdb.out" | grep -n -E -m1 -- "$re" | cut -d: -f1)
    [ -n "$n" ] || fail "no line matching '$re' after line $line of gdb's output:
$(cat "$TMP/gdb.out")"
    line=$((line + n))
  done
}

# No process of ours (rr-like, gdb, tracees) may outlive rr-like.
expect_no_leftovers() {
  local f pid left="" deadline=$((SECONDS + 5))
  while :; do
    left=""
    for f in $(grep -lzx "RRL_TEST_MARKER=$MARK" /proc/[0-9]*/environ 2> /dev/null); do
      pid=${f#/proc/}
      left="$left ${pid%/environ}"
    done
    [ -z "$left" ] && return 0
    [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  # shellcheck disable=SC2086 # a list of pids
  ps -o pid=,stat=,args= -p "${left// /,}" >&2
  # shellcheck disable=SC2086
  kill -9 $left 2> /dev/null
  fail "processes outlived rr-like:$left"
}

case_break_args() {
  record gdb_basic
  debug -- 'break add' 'continue' 'bt'
  expect_lines '^Breakpoint 1, add \(a=21, b=21\) at .*gdb_basic.c:11' \
    '^#1 .* in compute \(x=21\) at .*gdb_basic.c:21' '^#2 .* in main \(\) at'
}

case_print_locals() {
  record gdb_basic
  debug -- 'break 32' 'continue' 'print total' 'print result' 'print hits' 'info locals'
  expect_lines '^Breakpoint 1, main \(\) at .*gdb_basic.c:32' '^\$1 = 5$' '^\$2 = 43$' \
    '^\$3 = 5$' '^total = 5$' '^result = 43$'
}

case_watch_values() {
  record gdb_basic
  debug -- 'break visit' 'continue' 'delete' 'watch watched' 'continue' 'continue'
  expect_lines '^Hardware watchpoint 2: watched' '^Old value = 0$' '^New value = 10$' \
    '^visit \(i=1\)' '^Old value = 10$' '^New value = 20$' '^visit \(i=2\)'
}

case_threads() {
  record gdb_threads
  debug -- 'break work' 'continue' 'info threads' 'print id' 'continue' 'print id' 'continue' \
    'print id' 'continue'
  expect_lines 'hit Breakpoint 1, work \(id=[123]\)' '^ +1 +Thread ' '^\* 2 +Thread .* work \(id=' \
    '^ +3 +Thread ' '^ +4 +Thread ' '^\$1 = [123]$' 'hit Breakpoint 1, work \(id=[123]\)' \
    '^\$2 = [123]$' 'hit Breakpoint 1, work \(id=[123]\)' '^\$3 = [123]$' 'exited normally'
  # Three different workers hit it.
  [ "$(grep -E '^\$[123] = ' "$TMP/gdb.out" | cut -d' ' -f3 | sort -u | wc -l)" = 3 ] ||
    fail "the breakpoint was not hit once in each worker: $(cat "$TMP/gdb.out")"
}

case_fork_child() {
  record gdb_fork
  local child
  child=$("$RR_LIKE" dump "$TRACE" | grep '"kind":"clone"' | head -1 |
    sed -E 's/.*"new_tid":([0-9]+).*/\1/')
  [ -n "$child" ] || fail "no fork in the trace"
  debug -p "$child" -- 'break child_work' 'continue' 'print seed' 'finish' 'continue'
  expect_lines '^Breakpoint 1, child_work \(seed=7\) at .*gdb_fork.c' '^\$1 = 7$' \
    '^Value returned is \$2 = 49$' "exited with code 061"
}

case_exit_status() {
  record gdb_basic
  debug -- 'continue'
  expect_lines '^total=5 result=43 watched=50$' 'exited with code 03\]'
}

case_reverse_continue_breakpoint() {
  record gdb_basic
  debug -- 'break visit' 'continue' 'continue' 'continue' 'print hits' 'reverse-continue' \
    'print hits' 'print i' 'reverse-continue' 'print i'
  expect_lines '^Breakpoint 1, visit \(i=3\)' '^\$1 = 2$' '^Breakpoint 1, visit \(i=2\)' \
    '^\$2 = 1$' '^\$3 = 2$' '^Breakpoint 1, visit \(i=1\)' '^\$4 = 1$'
}

# The same with a checkpoint every 5 events: going back restores frozen
# copies of the replay (taken after syscall buffering began) instead of
# replaying from the start.
case_reverse_from_checkpoints() {
  export RR_LIKE_CHECKPOINT_INTERVAL=5
  case_reverse_continue_breakpoint
  unset RR_LIKE_CHECKPOINT_INTERVAL
}

case_reverse_continue_watch() {
  record gdb_basic
  debug -- 'break visit' 'continue' 'delete' 'watch watched' 'continue' 'continue' 'continue' \
    'reverse-continue' 'print watched' 'print i'
  # From just after the write of 30 going back, the last write is that one:
  # gdb shows the value going back to 20.
  expect_lines '^New value = 30$' '^Old value = 30$' '^New value = 20$' '^visit \(i=3\)' \
    '^\$1 = 20$' '^\$2 = 3$'
}

case_reverse_finish() {
  record gdb_basic
  debug -- 'break add' 'continue' 'reverse-finish' 'print x'
  expect_lines '^Breakpoint 1, add' 'in compute \(x=21\) at .*gdb_basic.c:21' '^\$1 = 21$'
}

case_reverse_step() {
  record gdb_basic
  debug -- 'break 32' 'continue' 'reverse-step' 'print doubled'
  expect_lines '^Breakpoint 1, main \(\) at .*gdb_basic.c:32' \
    '^compute \(x=21\) at .*gdb_basic.c:23' '^\$1 = 42$'
}

case_history_start() {
  record gdb_basic
  debug -- 'break visit' 'continue' 'reverse-continue' 'continue'
  expect_lines '^Breakpoint 1, visit \(i=1\)' '^No more reverse-execution history' \
    '^Breakpoint 1, visit \(i=1\)'
}

case_checkpoint_restart() {
  record gdb_basic
  debug -- 'break visit' 'continue' 'checkpoint' 'continue' 'continue' 'print hits' 'when' \
    'info checkpoints' 'restart 1' 'print hits' 'print i'
  expect_lines '^Checkpoint 1 at event [0-9]+' '^\$1 = 2$' '^Current event: [0-9]+' \
    '^1[[:space:]]+event [0-9]+' '^Restarting from checkpoint 1' '^\$2 = 0$' '^\$3 = 1$'
}

case_goto_event_stepi() {
  record gdb_basic
  local event
  event=$("$RR_LIKE" dump "$TRACE" | grep '"kind":"syscall","syscall":"getpid"' | sed -n 1p |
    sed -E 's/^\{"event":([0-9]+).*/\1/')
  [ -n "$event" ] || fail "no traced getpid in the trace"
  debug -g "$event" -- 'when' 'print/x $pc' 'reverse-stepi' 'x/i $pc' 'reverse-stepi' \
    'print/x $pc' 'stepi' 'stepi' 'print/x $pc' 'when'
  expect_lines "^Current event: $event\$" '^\$1 = 0x' '=> .*syscall' '^\$2 = 0x' '^\$3 = 0x' \
    "^Current event: $event\$"
  local pcs
  pcs=$(grep -E '^\$[123] = ' "$TMP/gdb.out" | cut -d' ' -f3 | tr '\n' ' ')
  set -- $pcs
  [ "$1" = "$3" ] && [ "$1" != "$2" ] ||
    fail "two stepi after two reverse-stepi did not come back to $1: $pcs"
}

# serve PROGRAM: rr-like serving its replay on a free port, in the background.
serve() {
  record "$1"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RRL_TEST_MARKER=$MARK "$RR_LIKE" replay -s "$PORT" "$TRACE" > "$TMP/serve.out" 2> "$TMP/serve.err" &
  SERVER=$!
  for _ in $(seq 1 100); do
    grep -q "127.0.0.1:$PORT" "$TMP/serve.out" 2> /dev/null && return 0
    sleep 0.1
  done
  fail "rr-like did not start serving: $(cat "$TMP/serve.err")"
}

# Ends the background server: it must exit by itself within a few seconds.
expect_server_exits() {
  for _ in $(seq 1 100); do
    kill -0 "$SERVER" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER" 2> /dev/null; then
    kill -9 "$SERVER"
    fail "rr-like kept running after gdb went away"
  fi
  wait "$SERVER"
  expect_no_leftovers
}

# A small gdb-protocol client: sends packets, prints each reply on a line.
client() {
  python3 - "$PORT" "$@" << 'EOF'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
def send_raw(data):
    s.sendall(data)
def read_reply():
    buf = b""
    while True:
        c = s.recv(1)
        if not c:
            return None
        if c == b"+":
            continue
        if c == b"-" and not buf:
            return "NAK"
        buf += c
        if b"#" in buf and len(buf) >= buf.index(b"#") + 3:
            s.sendall(b"+")
            return buf[buf.index(b"$") + 1:buf.index(b"#")].decode()
for arg in sys.argv[2:]:
    if arg == "CLOSE":
        s.close()
        sys.exit(0)
    if arg.startswith("RAW:"):
        send_raw(arg[4:].encode())
        reply = read_reply()
    else:
        pkt = "$%s#%02x" % (arg, sum(arg.encode()) % 256)
        send_raw(pkt.encode())
        reply = read_reply()
    print("reply:", reply)
    sys.stdout.flush()
EOF
}

case_second_client() {
  serve gdb_basic
  timeout 60 gdb -batch -nx -ex "target extended-remote 127.0.0.1:$PORT" \
    -ex 'break visit' -ex 'continue' \
    -ex "python import socket; t=socket.create_connection(('127.0.0.1', $PORT)); t.settimeout(10); print('second client got', repr(t.recv(10)))" \
    -ex 'print i' > "$TMP/gdb.out" 2>&1
  expect_lines '^Breakpoint 1, visit \(i=1\)' "^second client got b''$" '^\$1 = 1$'
  expect_server_exits
}

case_bad_packets() {
  serve gdb_basic
  client '?' 'qFooBarUnknown' 'm,zz' 'Zq' 'M1000,1:00' 'G00' 'RAW:$g#00' 'vCont;x' 'k' \
    > "$TMP/client.out" 2>&1 || fail "client failed: $(cat "$TMP/client.out")"
  cp "$TMP/client.out" "$TMP/gdb.out"
  # ?, unknown, malformed m and Z, refused writes, a bad checksum, a bad vCont.
  expect_lines '^reply: T05' '^reply: $' '^reply: E01$' '^reply: E01$' '^reply: E01$' \
    '^reply: E01$' '^reply: NAK$' '^reply: E01$'
  expect_server_exits
}

case_disconnect() {
  serve gdb_basic
  client '?' 'Z0,555555555169,1' 'vCont;c' CLOSE > "$TMP/client.out" 2>&1 ||
    fail "client failed: $(cat "$TMP/client.out")"
  expect_server_exits
}

type "case_$CASE" > /dev/null 2>&1 || fail "unknown case $CASE"
"case_$CASE"
expect_no_leftovers
echo "PASS: $CASE"
