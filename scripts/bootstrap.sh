#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (see README):
#   scripts/bootstrap.sh demo   install dependencies, build, record the example program
#   scripts/bootstrap.sh test   install dependencies, build, run the whole test suite
# BUILD_DIR (default: build) picks the build directory.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

PACKAGES=(
  # build
  g++ meson ninja-build pkg-config
  catch2 libelf-dev libcapstone-dev libseccomp-dev libzstd-dev libfmt-dev
  # tests: the real programs the suite records, and its tools
  gcc make python3 sqlite3 gzip xz-utils gdb util-linux procps coreutils findutils
)

install_dependencies() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "== installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  [ -f "$BUILD_DIR/build.ninja" ] || meson setup "$BUILD_DIR"
  ninja -C "$BUILD_DIR"
}

demo() {
  local rr="$BUILD_DIR/src/cli/rr-like"
  TRACE_ROOT=$(mktemp -d)
  trap 'rm -rf "$TRACE_ROOT"' EXIT
  export RR_LIKE_TRACE_DIR=$TRACE_ROOT
  echo "== native run of the example"
  "$BUILD_DIR/examples/hello" demo
  echo "== recorded run: rr-like record $BUILD_DIR/examples/hello demo"
  "$rr" record "$BUILD_DIR/examples/hello" demo
  echo "== replayed run: rr-like replay -a (the same pid, time and random number again)"
  "$rr" replay -a
  echo "== rr-like ls"
  "$rr" ls
  echo "== what the trace holds (rr-like dump, a summary)"
  "$rr" dump | python3 -c '
import json, sys, collections
events = [json.loads(l) for l in sys.stdin]
print(len(events), "events:", dict(collections.Counter(e["kind"] for e in events)))
for e in events:
    if e["kind"] == "syscall" and e["syscall"] in ("getpid", "clock_gettime", "getrandom", "write"):
        print("  #%d %s -> %d (%d bytes written to memory)" % (e["event"], e["syscall"], e["result"], e["bytes_written"]))
'
}

case "${1:-}" in
  demo) install_dependencies; build; demo ;;
  test)
    install_dependencies
    build
    status=0
    meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || status=$?
    # One plain summary line, whatever reads this log.
    python3 - "$BUILD_DIR/meson-logs/testlog.json" << 'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
passed = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
print(f"{passed} passed, {len(results) - passed} failed")
PY
    exit $status
    ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
