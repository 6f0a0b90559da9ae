#include "progress/progress_source.h"

#include <cpuid.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "common/log.h"
#include "common/scoped_fd.h"

namespace rrl::progress {

namespace {

const LogChannel kLog("progress");

class Software final : public Source {
 public:
  Kind kind() const override { return Kind::kSoftware; }
  bool counts() const override { return false; }
  Status attach(pid_t, uint64_t) override { return {}; }
  void detach(pid_t) override {}
  Expected<std::optional<uint64_t>> count(pid_t) override { return std::nullopt; }
  Status reset(pid_t) override { return {}; }
  Expected<bool> arm(pid_t, uint64_t) override { return false; }
  void disarm(pid_t) override {}
};

// The retired-conditional-branch event of the CPU (the count rr relies on:
// deterministic, unlike counts of all branches on some models); a generic
// branch count elsewhere.
perf_event_attr branch_attr() {
  perf_event_attr a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid(0, eax, ebx, ecx, edx);
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (std::strcmp(vendor, "GenuineIntel") == 0) {
    a.type = PERF_TYPE_RAW;
    a.config = 0x5101c4;  // BR_INST_RETIRED.CONDITIONAL
  } else if (std::strcmp(vendor, "AuthenticAMD") == 0) {
    a.type = PERF_TYPE_RAW;
    a.config = 0x5100d1;  // retired conditional branches (Zen)
  } else {
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_BRANCH_INSTRUCTIONS;
  }
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  a.exclude_guest = 1;
  return a;
}

int perf_event_open(perf_event_attr* a, pid_t tid) {
  return static_cast<int>(::syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

class BranchCounter final : public Source {
 public:
  Kind kind() const override { return Kind::kBranchCounter; }
  bool counts() const override { return true; }

  Status attach(pid_t tid, uint64_t start) override {
    perf_event_attr a = branch_attr();
    a.pinned = 1;
    ScopedFd fd(perf_event_open(&a, tid));
    if (!fd.valid()) return fail_errno("open a branch counter for task " + std::to_string(tid));
    auto& c = tasks_[tid];
    c.counter = std::move(fd);
    c.start = start;
    c.base = 0;
    auto now = raw(c);
    if (!now) return std::unexpected(now.error());
    c.base = *now;
    return {};
  }

  void detach(pid_t tid) override { tasks_.erase(tid); }

  Expected<std::optional<uint64_t>> count(pid_t tid) override {
    auto it = tasks_.find(tid);
    if (it == tasks_.end()) return fail("task " + std::to_string(tid) + " has no branch counter");
    auto now = raw(it->second);
    if (!now) return std::unexpected(now.error());
    return *now - it->second.base + it->second.start;
  }

  Status reset(pid_t tid) override {
    auto it = tasks_.find(tid);
    if (it == tasks_.end()) return {};
    auto now = raw(it->second);
    if (!now) return std::unexpected(now.error());
    it->second.base = *now;
    it->second.start = 0;
    return {};
  }

  // A second counter of the same event that overflows after `branches` and
  // then signals the task itself (F_SETOWN_EX to the thread).
  Expected<bool> arm(pid_t tid, uint64_t branches) override {
    auto it = tasks_.find(tid);
    if (it == tasks_.end() || branches == 0) return false;
    perf_event_attr a = branch_attr();
    a.sample_period = branches;
    a.wakeup_events = 1;
    ScopedFd fd(perf_event_open(&a, tid));
    if (!fd.valid()) return fail_errno("open a branch interrupt for task " + std::to_string(tid));
    f_owner_ex owner{F_OWNER_TID, tid};
    if (::fcntl(fd.get(), F_SETOWN_EX, &owner) != 0 ||
        ::fcntl(fd.get(), F_SETSIG, kInterruptSignal) != 0 ||
        ::fcntl(fd.get(), F_SETFL, O_ASYNC) != 0)
      return fail_errno("make the branch counter interrupt task " + std::to_string(tid));
    it->second.interrupt = std::move(fd);
    kLog.debug(tid, "interrupt armed after {} branches", branches);
    return true;
  }

  void disarm(pid_t tid) override {
    auto it = tasks_.find(tid);
    if (it != tasks_.end()) it->second.interrupt.reset();
  }

 private:
  struct Counter {
    ScopedFd counter;
    ScopedFd interrupt;
    uint64_t base = 0;   // raw value at the last progress event
    uint64_t start = 0;  // count carried over from a checkpoint
  };

  static Expected<uint64_t> raw(const Counter& c) {
    uint64_t v = 0;
    if (::read(c.counter.get(), &v, sizeof v) != sizeof v) return fail_errno("read a branch counter");
    return v;
  }

  std::map<pid_t, Counter> tasks_;
};

}  // namespace

std::string kind_name(Kind kind) {
  return kind == Kind::kBranchCounter ? "branch counter" : "software";
}

std::unique_ptr<Source> software_source() {
  return std::make_unique<Software>();
}

// Probes with a counter on rr-like itself: the event exists and this user may
// count user-mode events of its own tasks.
Expected<std::unique_ptr<Source>> branch_counter_source() {
  perf_event_attr a = branch_attr();
  ScopedFd probe(perf_event_open(&a, 0));
  if (!probe.valid())
    return fail_errno("this machine has no usable hardware branch counter (perf_event_open)");
  return std::unique_ptr<Source>(std::make_unique<BranchCounter>());
}

Expected<std::unique_ptr<Source>> open_source(const char* request) {
  std::string want = request && *request ? request : "auto";
  if (want == "software") return software_source();
  if (want == "branches") return branch_counter_source();
  if (want != "auto")
    return fail("RR_LIKE_PROGRESS must be auto, software or branches, not '" + want + "'");
  auto counter = branch_counter_source();
  if (counter) return counter;
  kLog.debug(0, "{}; using the software source", counter.error().describe());
  return software_source();
}

bool resets_progress(const trace::EventData& data) {
  return std::holds_alternative<trace::SyscallEvent>(data) ||
         std::holds_alternative<trace::SignalEvent>(data) ||
         std::holds_alternative<trace::SchedEvent>(data) ||
         std::holds_alternative<trace::RdtscEvent>(data) ||
         std::holds_alternative<trace::ExecEvent>(data);
}

}  // namespace rrl::progress
