// Progress sources (src/progress): the software source, choosing a source,
// and the events that restart a count. The branch counter itself is tested
// only where the machine has one (ours do not).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "progress/progress_source.h"

using namespace rrl;
using namespace rrl::progress;

TEST_CASE("the software source counts nothing and cannot interrupt", "[progress]") {
  auto s = software_source();
  CHECK(s->kind() == Kind::kSoftware);
  CHECK_FALSE(s->counts());
  REQUIRE(s->attach(getpid()));
  auto n = s->count(getpid());
  REQUIRE(n);
  CHECK_FALSE(n->has_value());
  auto armed = s->arm(getpid(), 1000);
  REQUIRE(armed);
  CHECK_FALSE(*armed);
  CHECK(s->reset(getpid()));
}

TEST_CASE("RR_LIKE_PROGRESS picks the source", "[progress]") {
  auto software = open_source("software");
  REQUIRE(software);
  CHECK((*software)->kind() == Kind::kSoftware);

  auto bogus = open_source("fast");
  REQUIRE_FALSE(bogus);
  CHECK(bogus.error().message.find("auto, software or branches, not 'fast'") != std::string::npos);

  // "auto" (or unset) takes the counter exactly when there is one.
  auto counter = branch_counter_source();
  for (const char* request : {static_cast<const char*>(nullptr), "", "auto"}) {
    auto chosen = open_source(request);
    REQUIRE(chosen);
    CHECK((*chosen)->kind() == (counter ? Kind::kBranchCounter : Kind::kSoftware));
  }
  auto branches = open_source("branches");
  CHECK(branches.has_value() == counter.has_value());
  if (!branches)
    CHECK(branches.error().message.find("no usable hardware branch counter") != std::string::npos);
}

TEST_CASE("counts restart at events where the task stands still", "[progress]") {
  using namespace rrl::trace;
  CHECK(resets_progress(SyscallEvent{}));
  CHECK(resets_progress(SignalEvent{}));
  CHECK(resets_progress(SchedEvent{}));
  CHECK(resets_progress(RdtscEvent{}));
  CHECK(resets_progress(ExecEvent{}));
  // Written away from the task's stop (or not at one): no restart.
  CHECK_FALSE(resets_progress(SyscallEntryEvent{}));
  CHECK_FALSE(resets_progress(BufferedSyscallEvent{}));
  CHECK_FALSE(resets_progress(PatchEvent{}));
  CHECK_FALSE(resets_progress(CloneEvent{}));
  CHECK_FALSE(resets_progress(ExitEvent{}));
}

TEST_CASE("the branch counter counts a child's branches (machines with a counter)",
          "[progress]") {
  auto counter = branch_counter_source();
  if (!counter) {
    WARN("no hardware branch counter here: " << counter.error().describe());
    return;
  }
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    raise(SIGSTOP);
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 1000000; ++i) x = x + i;
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, WUNTRACED) == child);
  auto& c = **counter;
  REQUIRE(c.attach(child));
  kill(child, SIGCONT);
  REQUIRE(waitpid(child, &status, 0) == child);
  // The count of an exited task stays readable through its fd.
  auto n = c.count(child);
  REQUIRE(n);
  REQUIRE(n->has_value());
  CHECK(**n >= 1000000);
}
