#include "debugger/launch.h"

#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/log.h"
#include "debugger/mailbox.h"
#include "debugger/replay_debugger.h"
#include "debugger/replay_target.h"
#include "gdbserver/connection.h"
#include "gdbserver/server.h"
#include "replayer/replay_session.h"
#include "replayer/replayer.h"
#include "trace/trace_reader.h"

namespace rrl::debugger {

namespace {

// rr-like's commands in gdb: thin wrappers of `monitor ...`.
constexpr const char* kGdbCommands = R"(import gdb

class RrLikeCommand(gdb.Command):
    def __init__(self, name, monitor, moves=False):
        super().__init__(name, gdb.COMMAND_RUNNING)
        self.monitor = monitor
        self.moves = moves

    def invoke(self, arg, from_tty):
        gdb.execute("monitor " + self.monitor + (" " + arg if arg else ""))
        if self.moves:
            gdb.execute("maintenance flush register-cache")
            gdb.execute("maintenance flush dcache")
            gdb.execute("frame")

RrLikeCommand("when", "when")
RrLikeCommand("checkpoint", "checkpoint")
RrLikeCommand("restart", "restart", moves=True)
RrLikeCommand("info checkpoints", "checkpoints")
)";

// Where gdb's first stop is (-g EVENT, and not before the -p process
// exists), and where its history starts (the process's first event).
Expected<std::pair<uint64_t, uint64_t>> first_stop(const std::string& dir,
                                                   const DebugOptions& opts, pid_t* pid) {
  auto reader = trace::TraceReader::open(dir);
  if (!reader) return std::unexpected(reader.error());
  uint64_t count = 0;
  std::optional<uint64_t> born;
  while (true) {
    auto ev = reader->next();
    if (!ev) return std::unexpected(ev.error());
    if (!*ev) break;
    count++;
    if (*pid == 0) *pid = (*ev)->tid;
    if (!born && (*ev)->tid == *pid && (*ev)->number > 0) born = (*ev)->number;
  }
  if (!born) return fail(fmt::format("process {} does not appear in the trace", *pid));
  uint64_t start = std::max<uint64_t>(opts.start_event, *born);
  if (start >= count)
    return fail(fmt::format("event {} is past the end of the trace ({} events)", start, count));
  return std::pair{start, *born};
}

Expected<std::string> write_command_file() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = fmt::format("{}/rr-like-gdb-{}.py", tmp && *tmp ? tmp : "/tmp", ::getpid());
  std::ofstream out(path);
  out << kGdbCommands;
  if (!out) return fail("cannot write " + path);
  return path;
}

Expected<pid_t> start_gdb(const DebugOptions& opts, uint16_t port, const std::string& commands) {
  std::vector<std::string> args{opts.debugger, "-q", "-l", "10000", "-ex", "set sysroot /",
                                "-ex", fmt::format("target extended-remote 127.0.0.1:{}", port),
                                "-x", commands};
  args.insert(args.end(), opts.gdb_args.begin(), opts.gdb_args.end());
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork for gdb");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::signal(SIGINT, SIG_DFL);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "rr-like: error: cannot run the debugger '%s': %s\n",
                 opts.debugger.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

// Waits for gdb to connect; fails if gdb ends first.
Expected<gdb::Connection> accept_gdb(gdb::GdbListener listener, pid_t gdb_pid) {
  while (true) {
    struct pollfd pfd = {listener.fd(), POLLIN, 0};
    int n = ::poll(&pfd, 1, 100);
    if (n > 0) return std::move(listener).accept_client();
    if (gdb_pid > 0) {
      int status;
      if (::waitpid(gdb_pid, &status, WNOHANG) == gdb_pid)
        return fail("the debugger exited before it connected");
    }
  }
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Expected<int> debug_replay(const DebugOptions& opts) {
  auto trace = replayer::prepare(replayer::ReplayOptions{opts.trace});
  if (!trace) return std::unexpected(trace.error());
  pid_t pid = opts.pid;
  auto start = first_stop(trace->dir, opts, &pid);
  if (!start) return std::unexpected(start.error());
  auto listener = gdb::GdbListener::listen_loopback(opts.serve_port.value_or(0));
  if (!listener) return std::unexpected(listener.error());
  uint16_t port = listener->port();
  // Ctrl-C in the terminal is gdb's: it interrupts the replay through the protocol.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);

  Mailbox mailbox;
  DebuggerOptions dopts{trace->dir, pid, start->first, start->second};
  auto prepared = *trace;
  ReplayDebugger debugger(dopts, [prepared] { return replayer::open_session(prepared); }, mailbox);
  Status outcome;
  std::thread replay_thread([&] {
    outcome = debugger.drive();
    gdb::StopEvent end;
    end.kind = gdb::StopKind::kTerminated;
    end.signal = SIGKILL;
    mailbox.close(end);
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{replay_thread};

  auto commands = write_command_file();
  if (!commands) return std::unexpected(commands.error());
  struct Remove {
    std::string path;
    ~Remove() { std::filesystem::remove(path); }
  } remove{*commands};
  pid_t gdb_pid = 0;
  if (opts.serve_port) {
    std::printf("rr-like: serving the replay on 127.0.0.1:%u; connect with:\n"
                "  gdb -ex 'set sysroot /' -ex 'target extended-remote 127.0.0.1:%u'\n",
                port, port);
    std::fflush(stdout);
  } else {
    auto g = start_gdb(opts, port, *commands);
    if (!g) return std::unexpected(g.error());
    gdb_pid = *g;
  }
  auto conn = accept_gdb(std::move(*listener), gdb_pid);
  ReplayTarget target(debugger, mailbox);
  if (conn) {
    gdb::GdbServer server(std::move(*conn), target);
    if (auto st = server.run(); !st) print_warning("gdb connection: " + st.error().describe());
  }
  target.kill();
  replay_thread.join();
  int status = gdb_pid > 0 ? wait_child(gdb_pid) : 0;
  if (!conn) return std::unexpected(conn.error());
  if (!outcome) return std::unexpected(outcome.error());
  return status;
}

}  // namespace rrl::debugger
