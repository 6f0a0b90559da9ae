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
  local rr="$BUILD_DIR/src/cli/rr-like" trace_root
  trace_root=$(mktemp -d)
  trap 'rm -rf "$trace_root"' EXIT
  echo "== native run of the example"
  "$BUILD_DIR/examples/hello" demo
  echo "== recorded run: rr-like record $BUILD_DIR/examples/hello demo"
  RR_LIKE_TRACE_DIR="$trace_root" "$rr" record "$BUILD_DIR/examples/hello" demo
  echo "== rr-like ls"
  RR_LIKE_TRACE_DIR="$trace_root" "$rr" ls
  echo "== the recorded syscalls (rr-like dump, syscall names in order)"
  RR_LIKE_TRACE_DIR="$trace_root" "$rr" dump | python3 -c '
import json, sys, collections
events = [json.loads(l) for l in sys.stdin]
kinds = collections.Counter(e["kind"] for e in events)
print(len(events), "events:", dict(kinds))
for e in events:
    if e["kind"] == "syscall" and e["syscall"] in ("write", "getrandom", "clock_gettime", "openat", "read"):
        print("  #%d %s -> %d (%d bytes written to memory)" % (e["event"], e["syscall"], e["result"], e["bytes_written"]))
'
}

case "${1:-}" in
  demo) install_dependencies; build; demo ;;
  test) install_dependencies; build; meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
