# shellcheck shell=bash disable=SC2034  # variables are read by the sourcing script
# The real-program cases, shared by tests/scripts/real_programs.sh and
# bench/record_overhead.sh. Source it after lib.sh.
#
# real_case_setup CASE sets REAL_CMD (an array, run in $WORKDIR), and may set
# PREPARE (a function that resets $WORKDIR before each run) and COLLECT (a
# function that writes checksums of the files a run made to DIR/artifacts).

REAL_CASES="ls sh_pipeline python3 gzip make sqlite3 gcc"

# Real programs come from the system packages, not from whatever PATH has.
REAL_PATH=/usr/local/bin:/usr/bin:/bin

# need_tool NAME PACKAGE: absolute path of NAME, or fail naming the package.
need_tool() {
  local path
  path=$(PATH=$REAL_PATH command -v "$1") || {
    echo "FAIL: '$1' is missing: install the Debian package '$2' (see README)" >&2
    return 1
  }
  echo "$path"
}

# A 3 MB deterministic input file for gzip.
make_gzip_input() {
  [ -f "$TMP/gzip-input" ] && return 0
  seq 1 600000 | awk '{ print $1 * 7919 % 100003, "line", $1 }' | head -c 3145728 \
    > "$TMP/gzip-input"
}

# A small C project: three source files and a Makefile that builds and runs it.
prepare_make_project() {
  rm -rf "$WORKDIR" && mkdir -p "$WORKDIR" || return 1
  cat > "$WORKDIR/main.c" <<'C'
#include <stdio.h>
int square(int x);
const char* greeting(void);
int main(void) {
  int total = 0;
  for (int i = 1; i <= 10; i++) total += square(i);
  printf("%s: sum of squares 1..10 = %d\n", greeting(), total);
  return total == 385 ? 0 : 1;
}
C
  echo 'int square(int x) { return x * x; }' > "$WORKDIR/square.c"
  echo 'const char* greeting(void) { return "hello from make"; }' > "$WORKDIR/greeting.c"
  printf '%s\n' \
    'CC = gcc' \
    'CFLAGS = -O2 -Wall' \
    'OBJS = main.o square.o greeting.o' \
    'run: prog' \
    '	./prog' \
    'prog: $(OBJS)' \
    '	$(CC) -o $@ $(OBJS)' \
    '%.o: %.c' \
    '	$(CC) $(CFLAGS) -c $< -o $@' \
    '.PHONY: run' > "$WORKDIR/Makefile"
}

collect_objects() {
  (cd "$WORKDIR" && cksum ./*.o) > "$1/artifacts"
}

prepare_gcc_file() {
  rm -rf "$WORKDIR" && mkdir -p "$WORKDIR" || return 1
  cat > "$WORKDIR/small.c" <<'C'
#include <string.h>
struct point { int x, y; };
static int unused_variable_warning(void) { int unused; return 1; }
int manhattan(const struct point* a, const struct point* b) {
  int dx = a->x - b->x, dy = a->y - b->y;
  return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
}
size_t name_length(const char* s) { return strlen(s) + (size_t)unused_variable_warning(); }
C
}

real_case_setup() {
  PREPARE=
  COLLECT=
  local tool
  case $1 in
    ls)
      tool=$(need_tool ls coreutils) || return 1
      REAL_CMD=("$tool" -la /usr/bin) ;;
    sh_pipeline)
      need_tool sort coreutils > /dev/null || return 1
      tool=$(need_tool sh dash) || return 1
      REAL_CMD=("$tool" -c 'echo a | sort | uniq -c; printf "b\na\nb\n" | sort | uniq -c') ;;
    python3)
      tool=$(need_tool python3 python3) || return 1
      REAL_CMD=("$tool" -c 'import hashlib, json, os
d = {"name": "rr-like", "values": [1, 2, 3], "nested": {"ok": True}}
print(json.dumps(d, sort_keys=True))
print(hashlib.sha256(b"rr-like fixed string").hexdigest())
print(os.path.basename(os.getcwd()), os.getenv("RR_LIKE_TEST_ENV"))
print(json.loads(json.dumps(d)) == d)') ;;
    gzip)
      tool=$(need_tool gzip gzip) || return 1
      make_gzip_input
      REAL_CMD=("$tool" -n -c "$TMP/gzip-input") ;;
    make)
      need_tool gcc gcc > /dev/null || return 1
      tool=$(need_tool make make) || return 1
      PREPARE=prepare_make_project
      COLLECT=collect_objects
      REAL_CMD=("$tool" --no-print-directory -j1) ;;
    sqlite3)
      tool=$(need_tool sqlite3 sqlite3) || return 1
      REAL_CMD=("$tool" :memory: 'CREATE TABLE t(k INTEGER, v TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO t SELECT i % 7, printf("value-%d", i) FROM n;
CREATE INDEX t_k ON t(k);
SELECT k, count(*), min(v), max(v) FROM t GROUP BY k ORDER BY k;') ;;
    gcc)
      tool=$(need_tool gcc gcc) || return 1
      PREPARE=prepare_gcc_file
      COLLECT=collect_objects
      REAL_CMD=("$tool" -c -O2 -Wall small.c -o small.o) ;;
    *)
      echo "FAIL: unknown case '$1' (known: $REAL_CASES)" >&2
      return 1 ;;
  esac
  return 0
}
