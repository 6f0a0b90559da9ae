#!/usr/bin/env bash
# Runs record_compare.sh as an unprivileged user: as `nobody` (via setpriv)
# when started as root, as the current user otherwise. Proves that recording
# needs no privileges.
#
# usage: unprivileged.sh RR_LIKE PROG_EXE EXPECTED_STATUS [ARGS...]
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 RR_LIKE PROG_EXE EXPECTED_STATUS [ARGS...]" >&2
  exit 2
fi
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "running as $(id -un) (not root)"
  exec bash "$HERE/record_compare.sh" "$@"
fi

RR_LIKE=$(resolve_exe "$1") || fail "rr-like not found: $1"
PROG=$(resolve_exe "$2") || fail "program not found: $2"
shift 2
id nobody > /dev/null 2>&1 || fail "user nobody is missing"
GROUP=$(id -gn nobody) || fail "no group for user nobody"
AS_NOBODY=(setpriv --reuid=nobody --regid="$GROUP" --clear-groups)

for f in "$RR_LIKE" "$PROG" "$HERE/record_compare.sh" "$HERE/lib.sh"; do
  "${AS_NOBODY[@]}" test -r "$f" ||
    fail "user nobody cannot read $f: the checkout and build directory must be world-readable"
done
for f in "$RR_LIKE" "$PROG"; do
  "${AS_NOBODY[@]}" test -x "$f" || fail "user nobody cannot execute $f"
done

# A directory nobody can write to, for its temp files and traces.
HOME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rrl-nobody-XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$HOME_DIR"' EXIT
chmod 755 "$HOME_DIR"
chown nobody: "$HOME_DIR"

echo "running as nobody"
"${AS_NOBODY[@]}" env HOME="$HOME_DIR" TMPDIR="$HOME_DIR" RR_LIKE_TRACE_DIR="$HOME_DIR/traces" \
  bash -c '[ "$(id -u)" != 0 ] || { echo "FAIL: still root" >&2; exit 1; }; exec bash "$@"' \
  unprivileged "$HERE/record_compare.sh" "$RR_LIKE" "$PROG" "$@"
