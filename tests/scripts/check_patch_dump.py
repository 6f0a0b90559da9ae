#!/usr/bin/env python3
"""Checks the `rr-like dump` of a syscall-buffering regression (issue 5).

usage: check_patch_dump.py CASE DUMP_FILE

futex_signal (regression a, tests/programs/patch_futex_signal.c):
  - a deferred patch of a futex site exists, asked for by the waiting thread
    (the one that gets SIGUSR1), and it was refused at least once first;
  - no deferred patch names a read or pread64 site (the handler's syscalls);
  - the futex patch is never written while a SIGUSR1 handler of the waiter
    runs (between its signal event and its rt_sigreturn);
  - afterwards the site is used: the waiter makes buffered futex calls, and
    the recorder took at least one back (aborted) when it blocked.
wait_blocked (regression b, tests/programs/patch_wait_blocked.c):
  - a deferred futex patch was refused at least once, then written at the
    syscall exit of a task other than the one that asked for it, right
    after that task's futex returned (it had been inside the region);
  - the asking task's own futex returned before the patch was written.
blocking_signal (tests/programs/blocking_signal.c):
  - buffered syscalls that a signal ended were taken back (aborted), and
    every SIGALRM was delivered outside the preload code proper (a stub's
    traced syscall is fine: it holds no record of the buffer).
buffered_misc (tests/programs/buffered_misc.c):
  - every kind of syscall it makes was buffered at least once (the first
    call of a site is traced and patches it), and SIGUSR1, unblocked by a
    traced rt_sigprocmask, came outside the preload code.
buffer_halves (tests/programs/buffer_halves.c):
  - the buffer filled up many times: over 60,000 buffered syscalls (about
    four halves), in the main process, both threads and both children;
  - none of them was lost (syscall number -1: a half that could not be
    read after the program went on), and all 73,000 of its preads are in
    the trace, buffered or traced; the buffer's pages were asked for ahead
    of the records (buffered madvise MADV_POPULATE_WRITE, inside the
    buffer, at least 8 of them successful). (The two threads' site can stay
    unpatched: while both hammer it, one is always inside its region.)
known_sites (tests/programs/known_sites.c):
  - each of the two processes started by exec got the sites known from the
    first one in libc and ld.so as soon as they were mapped, and no patch
    of a getppid, uname or sysinfo site at a stop;
  - each buffered 3 calls of each of them.
turns (tests/programs/patch_turns.c):
  - the deferred patch of the vdso's clock_gettime site was written, and
    fewer than 200 of the two threads' 4,002 clock_gettime calls were
    traced (the rest buffered).
syscall_wrapper (tests/programs/syscall_wrapper.c):
  - glibc's syscall() site (its number is not a constant) was patched once,
    after its first call (sched_yield, never buffered) was traced;
  - at most a few of the 2,500 getppid, getpid and gettid calls and none of
    the 500 clock_gettime calls after the patch were traced, and the
    unbuffered sched_yield calls were all traced.
Prints what it found; exits 1 with FAIL lines when a check fails."""
import json
import sys


# [RRL_PRELOAD_BASE, +RRL_CODE_SIZE) of src/preload/preload_interface.h.
PRELOAD_CODE = (0x7fffb0000000, 0x7fffb0010000)
# [RRL_BUFFER_ADDR, +RRL_BUFFER_SIZE).
BUFFER = (0x7fffb0050000, 0x7fffb0450000)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def deferred_patches(events):
    return [e for e in events if e["kind"] == "patch" and e.get("deferred")]


def fail(msg):
    print("FAIL: " + msg)
    return 1


def check_futex_signal(events):
    bad = 0
    waiters = {e["tid"] for e in events if e["kind"] == "signal" and e.get("signal") == "SIGUSR1"}
    if len(waiters) != 1:
        return fail(f"expected SIGUSR1 for exactly one thread, got {sorted(waiters)}")
    waiter = waiters.pop()
    patches = deferred_patches(events)
    futex = [p for p in patches if p["what"].startswith("futex site") and p["requested_by"] == waiter]
    if not futex:
        return fail("no deferred patch of a futex site asked for by the waiting thread")
    for p in patches:
        if p["what"].startswith("read site") or p["what"].startswith("pread64 site"):
            bad |= fail(f"a deferred patch landed on a read site: {p['what']} (event {p['event']})")
    p = futex[0]
    print(f"deferred patch: {p['what']} at event {p['event']}, asked for by {p['requested_by']}, "
          f"written at an exit of {p['tid']} after {p['waits']} refusals")
    if p["waits"] < 1:
        bad |= fail("the futex patch was never refused: the test did not exercise the deferral")
    in_handler = False
    for e in events:
        if e["tid"] != waiter:
            if e is p and in_handler:
                bad |= fail(f"the futex patch was written at event {e['event']} while the waiter's "
                            "handler ran (it returns into the patched region)")
            continue
        if e["kind"] == "signal" and e.get("signal") == "SIGUSR1":
            in_handler = True
        elif e["kind"] == "syscall" and e.get("syscall") == "rt_sigreturn":
            in_handler = False
        elif e is p and in_handler:
            bad |= fail(f"the futex patch was written at event {e['event']} inside the handler")
    after = [e for e in events if e["event"] > p["event"] and e["tid"] == waiter
             and e["kind"] == "buffered_syscall" and e["syscall"] == "futex"]
    aborted = [e for e in after if e.get("aborted")]
    print(f"after the patch: {len(after)} buffered futex calls of the waiter, {len(aborted)} taken back")
    if not aborted:
        bad |= fail("the waiter never blocked in a buffered futex that the recorder took back")
    return bad


def check_wait_blocked(events):
    bad = 0
    patches = [p for p in deferred_patches(events) if p["what"].startswith("futex site")
               and p["requested_by"] != p["tid"]]
    if not patches:
        return fail("no deferred futex patch written at another task's syscall exit")
    p = patches[0]
    print(f"deferred patch: {p['what']} at event {p['event']}, asked for by {p['requested_by']}, "
          f"written at an exit of {p['tid']} after {p['waits']} refusals")
    if p["waits"] < 1:
        bad |= fail("the patch was never refused")
    before = [e for e in events if e["tid"] == p["tid"] and e["event"] < p["event"]]
    if not before or before[-1]["kind"] != "syscall" or before[-1]["syscall"] != "futex":
        bad |= fail(f"the patch was not written right after task {p['tid']}'s futex returned")
    asker = [e for e in events if e["tid"] == p["requested_by"] and e["kind"] == "syscall"
             and e["syscall"] == "futex" and e["event"] < p["event"]]
    if not asker:
        bad |= fail("the asking task's futex had not returned before the patch")
    return bad


def check_blocking_signal(events):
    bad = 0
    aborted = [e for e in events if e["kind"] == "buffered_syscall" and e.get("aborted")]
    alarms = [e for e in events if e["kind"] == "signal" and e.get("signal") == "SIGALRM"]
    print(f"{len(aborted)} buffered syscalls taken back, {len(alarms)} SIGALRM deliveries: "
          + ", ".join(sorted({e["syscall"] for e in aborted})))
    if len(alarms) != 10:
        bad |= fail(f"expected 10 SIGALRM deliveries, got {len(alarms)}")
    if not aborted:
        bad |= fail("no buffered syscall was taken back")
    for e in alarms:
        ip = int(e["ip"], 16)
        if PRELOAD_CODE[0] <= ip < PRELOAD_CODE[1]:
            bad |= fail(f"SIGALRM delivered inside the preload code at event {e['event']}")
    return bad


def check_buffered_misc(events):
    """tests/programs/buffered_misc.c: each family of syscalls it makes was
    buffered at least once, and every SIGUSR1 came outside the preload code."""
    bad = 0
    buffered = {e["syscall"] for e in events if e["kind"] == "buffered_syscall"}
    families = [["getcwd"], ["readlink"], ["readlinkat"], ["copy_file_range"], ["uname"],
                ["sysinfo"], ["getrusage"], ["prlimit64"], ["rt_sigaction"], ["rt_sigprocmask"],
                ["utimensat"], ["access", "faccessat", "faccessat2"],
                ["rename", "renameat", "renameat2"], ["unlink", "unlinkat"], ["mkdir", "mkdirat"],
                ["rmdir", "unlinkat"], ["chmod", "fchmodat"], ["newfstatat", "stat", "lstat"]]
    for names in families:
        if not buffered.intersection(names):
            bad |= fail("never buffered: " + "/".join(names))
    usr1 = [e for e in events if e["kind"] == "signal" and e.get("signal") == "SIGUSR1"]
    if len(usr1) != 3:
        bad |= fail(f"expected 3 SIGUSR1 deliveries, got {len(usr1)}")
    for e in usr1:
        if PRELOAD_CODE[0] <= int(e["ip"], 16) < PRELOAD_CODE[1]:
            bad |= fail(f"SIGUSR1 delivered inside the preload code at event {e['event']}")
    print(f"{len(buffered)} syscalls buffered, {len(usr1)} SIGUSR1 deliveries")
    return bad


def check_buffer_halves(events):
    """tests/programs/buffer_halves.c: many full halves, nothing lost."""
    bad = 0
    buffered = [e for e in events if e["kind"] == "buffered_syscall"]
    if len(buffered) < 60000:
        bad |= fail(f"only {len(buffered)} buffered syscalls; the buffer did not fill often")
    preads = sum(1 for e in events if e["kind"] in ("buffered_syscall", "syscall")
                 and e["syscall"] == "pread64")
    if preads < 73000:
        bad |= fail(f"only {preads} pread64 calls in the trace; the program makes 73,000")
    lost = [e for e in buffered if e["nr"] < 0]
    if lost:
        bad |= fail(f"{len(lost)} buffered syscalls lost, the first at event {lost[0]['event']}")
    tids = {e["tid"] for e in buffered}
    if len(tids) < 5:
        bad |= fail(f"buffered syscalls of {len(tids)} tasks, expected 5 (main, 2 threads, 2 children)")
    # The preload code asks for the buffer's pages ahead of its records
    # (preload.c, populate_ahead): each full half was populated so.
    populate = [e for e in buffered if e["syscall"] == "madvise" and e["args"][2] == 23]
    outside = [e for e in populate
               if e["args"][0] < BUFFER[0] or e["args"][0] + e["args"][1] > BUFFER[1]]
    if outside:
        bad |= fail(f"populate ahead outside the buffer at event {outside[0]['event']}")
    if sum(1 for e in populate if e["result"] == 0) < 8:
        bad |= fail(f"{len(populate)} madvise(MADV_POPULATE_WRITE) of the buffer, "
                    "expected at least 8 that succeeded")
    print(f"{len(buffered)} buffered syscalls of {len(tids)} tasks, {len(lost)} lost, "
          f"{preads} pread64 calls, {len(populate)} buffer populations")
    return bad


def check_known_sites(events):
    """tests/programs/known_sites.c: the later processes' sites patched at once."""
    bad = 0
    execs = [e for e in events if e["kind"] == "exec" and "--second" in e.get("argv", [])]
    if len(execs) != 2:
        return fail(f"expected two execs of a second process, got {len(execs)}")
    for e in execs:
        bad |= check_known_sites_in(events, e["tid"], e["event"])
    return bad


def check_known_sites_in(events, tid, start):
    bad = 0
    second = [e for e in events if e["tid"] == tid and e["event"] > start]
    known = [e["what"] for e in second
             if e["kind"] == "patch" and "known from other processes" in e["what"]]
    for lib in ["libc.so", "ld-linux"]:
        if not any(lib in what for what in known):
            bad |= fail(f"no sites known from other processes patched in {lib}: {known}")
    calls = ["getppid", "uname", "sysinfo"]
    trapped = [e["what"] for e in second if e["kind"] == "patch"
               and e["what"].split(" ")[0] in calls]
    if trapped:
        bad |= fail(f"the second process patched sites at a stop: {trapped}")
    for name in calls:
        n = sum(1 for e in second if e["kind"] == "buffered_syscall" and e["syscall"] == name)
        if n != 3:
            bad |= fail(f"the second process buffered {n} {name} calls, expected 3")
    print(f"second process: {known}")
    return bad


def check_turns(events):
    """tests/programs/patch_turns.c: the deferred patch lands though both threads take turns."""
    bad = 0
    patches = [p for p in deferred_patches(events) if p["what"].startswith("clock_gettime site")]
    if not patches:
        bad |= fail("no deferred patch of a clock_gettime site")
    threads = {e["new_tid"] for e in events if e["kind"] == "clone"}
    calls = [e for e in events if e["tid"] in threads and e.get("syscall") == "clock_gettime"
             and e["kind"] in ("syscall", "buffered_syscall")]
    traced = sum(1 for e in calls if e["kind"] == "syscall")
    if len(calls) != 4002:
        bad |= fail(f"{len(calls)} clock_gettime calls of the threads in the trace, expected 4002")
    if traced >= 200:
        bad |= fail(f"{traced} of the threads' clock_gettime calls were traced: the patch waited")
    print(f"{traced} of {len(calls)} clock_gettime calls traced; patches: "
          f"{[(p['event'], p['tid'], p['waits']) for p in patches]}")
    return bad


def check_syscall_wrapper(events):
    """tests/programs/syscall_wrapper.c: the generic syscall() site patched."""
    bad = 0
    patches = [e for e in events if e["kind"] == "patch" and e["what"].startswith("syscall site")]
    if len(patches) != 1:
        return fail(f"expected one patch of a syscall site, got {[p['what'] for p in patches]}")
    after = [e for e in events if e["event"] > patches[0]["event"]
             and e["kind"] in ("syscall", "buffered_syscall")]
    counts = {}
    for e in after:
        key = (e["syscall"], e["kind"])
        counts[key] = counts.get(key, 0) + 1
    ids = ["getppid", "getpid", "gettid"]
    buffered = sum(counts.get((n, "buffered_syscall"), 0) for n in ids)
    traced = sum(counts.get((n, "syscall"), 0) for n in ids)
    if buffered < 2490 or traced > 10:
        bad |= fail(f"{buffered} getppid/getpid/gettid calls buffered, {traced} traced")
    if counts.get(("clock_gettime", "buffered_syscall"), 0) < 500:
        bad |= fail(f"clock_gettime: {counts.get(('clock_gettime', 'buffered_syscall'), 0)} buffered")
    yields = counts.get(("sched_yield", "syscall"), 0)
    if yields != 5 or counts.get(("sched_yield", "buffered_syscall"), 0):
        bad |= fail(f"{yields} sched_yield calls traced after the patch, expected 5")
    print(f"patched at event {patches[0]['event']}: {buffered} id calls buffered, "
          f"{traced} traced, {yields} sched_yield traced")
    return bad


def main():
    case, path = sys.argv[1], sys.argv[2]
    events = load(path)
    checks = {"futex_signal": check_futex_signal, "wait_blocked": check_wait_blocked,
              "blocking_signal": check_blocking_signal, "buffered_misc": check_buffered_misc,
              "buffer_halves": check_buffer_halves, "known_sites": check_known_sites,
              "turns": check_turns, "syscall_wrapper": check_syscall_wrapper}
    return checks[case](events)


if __name__ == "__main__":
    sys.exit(main())
