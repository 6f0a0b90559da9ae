#include "recorder/recorder.h"

#include <cpuid.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "progress/progress_source.h"
#include "recorder/chaos.h"
#include "recorder/session.h"
#include "recorder/spawn.h"
#include "trace/header.h"
#include "trace/trace_dir.h"
#include "trace/trace_writer.h"

extern char** environ;

namespace rrl::recorder {

namespace {

volatile sig_atomic_t g_interrupted = 0;
volatile sig_atomic_t g_alarm_fired = 0;

void on_interrupt(int) {
  g_interrupted = 1;
}

// Ctrl-C, a hangup or a kill ends the recording with an incomplete trace. No
// SA_RESTART: the scheduler's waitpid returns EINTR and notices at once.
void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  // SIGALRM wakes the scheduler at the end of a time slice.
  struct sigaction alarm {};
  alarm.sa_handler = [](int) { g_alarm_fired = 1; };
  sigemptyset(&alarm.sa_mask);
  ::sigaction(SIGALRM, &alarm, nullptr);
  // Write errors (a full disk, a file size limit) come back as errors instead.
  ::signal(SIGXFSZ, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// cpuid cannot be trapped on these machines, so the trace names the CPU it was
// recorded on and replay can warn when it differs.
void describe_machine(trace::Header& h) {
  utsname u;
  if (::uname(&u) == 0) h.kernel_release = u.release;
  auto leaf = [&](uint32_t l, uint32_t sub) {
    trace::Header::CpuidLeaf c{l, sub, 0, 0, 0, 0};
    __cpuid_count(l, sub, c.eax, c.ebx, c.ecx, c.edx);
    h.cpuid.push_back(c);
    return c;
  };
  auto l0 = leaf(0, 0);
  char vendor[13] = {};
  std::memcpy(vendor, &l0.ebx, 4);
  std::memcpy(vendor + 4, &l0.edx, 4);
  std::memcpy(vendor + 8, &l0.ecx, 4);
  h.cpu_vendor = vendor;
  leaf(1, 0);
  leaf(7, 0);
  leaf(0xd, 0);
  leaf(0xd, 1);
  auto ext = leaf(0x80000000, 0);
  char model[49] = {};
  for (uint32_t l = 0x80000001; l <= std::min(ext.eax, 0x80000008u); ++l) {
    auto c = leaf(l, 0);
    if (l >= 0x80000002 && l <= 0x80000004) {
      uint32_t regs[4] = {c.eax, c.ebx, c.ecx, c.edx};
      std::memcpy(model + (l - 0x80000002) * 16, regs, 16);
    }
  }
  h.cpu_model = model;
}

trace::Header initial_header(const std::string& program, const RecordOptions& opts) {
  trace::Header h;
  h.state = trace::Header::State::kRecording;
  char resolved[PATH_MAX];
  h.program = ::realpath(program.c_str(), resolved) ? resolved : program;
  h.argv = opts.argv;
  for (char** e = environ; *e; ++e) h.envp.emplace_back(*e);
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd)) h.cwd = cwd;
  h.start_time_ns = realtime_ns();
  h.exit_status = -1;
  h.syscall_buffer = opts.syscall_buffer;
  describe_machine(h);
  return h;
}

Expected<std::string> choose_trace_dir(const RecordOptions& opts, const std::string& program,
                                       bool* in_root) {
  *in_root = !opts.output_dir;
  if (opts.output_dir) return *opts.output_dir;
  std::string base = program.substr(program.rfind('/') + 1);
  return trace::make_trace_dir_name(trace::default_trace_root(), base);
}

}  // namespace

bool interrupted() {
  return g_interrupted != 0;
}

bool take_alarm() {
  bool fired = g_alarm_fired != 0;
  g_alarm_fired = 0;
  return fired;
}

Expected<int> record(const RecordOptions& opts) {
  auto program = resolve_program(opts.argv.at(0));
  if (!program) return std::unexpected(program.error());
  auto progress = progress::open_source(std::getenv("RR_LIKE_PROGRESS"));
  if (!progress) return std::unexpected(progress.error());
  bool in_root = false;
  auto dir = choose_trace_dir(opts, *program, &in_root);
  if (!dir) return std::unexpected(dir.error());
  trace::Header header = initial_header(*program, opts);
  header.progress_source = static_cast<uint8_t>((*progress)->kind());
  std::optional<uint64_t> chaos_seed;
  if (opts.chaos) {
    chaos_seed = opts.chaos_seed.value_or(Chaos::fresh_seed());
    header.chaos = true;
    header.chaos_seed = *chaos_seed;
  }
  auto writer = trace::TraceWriter::create(*dir, header);
  if (!writer) return std::unexpected(writer.error());
  if (in_root) (void)trace::update_latest_link(trace::default_trace_root(), *dir);
  print_note("saving execution to trace directory " + *dir);
  if (chaos_seed)
    print_note("chaos mode, seed " + std::to_string(*chaos_seed) + " (--chaos=" +
               std::to_string(*chaos_seed) + " makes the same random decisions)");
  install_interrupt_handlers();
  auto pid = spawn_traced(*program, opts.argv, opts.syscall_buffer);
  if (!pid) return std::unexpected(pid.error());

  Session session(*writer, *pid, opts.syscall_buffer, std::move(*progress), chaos_seed);
  auto status = session.run();
  header.end_time_ns = realtime_ns();
  header.event_count = session.events();
  if (!status) {
    session.kill_all();
    header.state =
        interrupted() ? trace::Header::State::kInterrupted : trace::Header::State::kFailed;
    header.failure_reason = status.error().describe();
    (void)writer->abandon(header);
    if (interrupted()) {
      print_note("recording interrupted; the trace " + *dir + " is incomplete");
      return 130;
    }
    return fail(status.error().describe() + " (the trace " + *dir + " is incomplete)");
  }
  header.state = trace::Header::State::kComplete;
  header.exit_status = session.exit_status();
  if (auto st = writer->finish(header); !st)
    return fail("cannot finish the trace " + *dir + ": " + st.error().describe());
  return session.exit_status() < 0 ? 1 : session.exit_status();
}

}  // namespace rrl::recorder
