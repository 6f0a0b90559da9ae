#include "trace/trace_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "trace/fs_util.h"

namespace rrl::trace {

namespace {

constexpr mode_t kDirMode = 0700;  // traces hold the program's memory and environment

Status check_empty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("cannot open trace directory " + dir);
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) return fail("trace directory " + dir + " already exists and is not empty");
  return {};
}

// The base name of a mapping's path as a safe file name.
std::string safe_base_name(std::string path) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  std::string base = path.substr(path.rfind('/') + 1);
  for (char& c : base) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+';
    if (!ok) c = '_';
  }
  if (base.size() > 128) base.resize(128);
  return base.empty() ? "file" : base;
}

}  // namespace

// fsyncs saved copies in the order they come, on its own thread (started
// with the first), so that finish() seldom waits for any.
struct TraceWriter::Syncer {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> paths;
  std::optional<Error> failed;
  bool stop = false;
  std::thread thread;

  ~Syncer() { (void)finish(); }

  void add(std::string path) {
    std::lock_guard lock(mu);
    paths.push_back(std::move(path));
    if (!thread.joinable()) {
      // Signals belong to the recorder's main thread (see stream.cc).
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      thread = std::thread([this] { loop(); });
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    cv.notify_all();
  }

  void loop() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !paths.empty(); });
      if (paths.empty()) return;
      std::string path = std::move(paths.front());
      paths.pop_front();
      lock.unlock();
      Status st = fsync_path(path);
      lock.lock();
      if (!st && !failed) failed = st.error();
    }
  }

  // Waits for every copy handed over; the first error, if any.
  Status finish() {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
    if (failed) return std::unexpected(*failed);
    return {};
  }
};

Expected<TraceWriter> TraceWriter::create(const std::string& dir, Header initial) {
  RRL_TRY(make_dirs(dir, kDirMode));
  RRL_TRY(check_empty(dir));
  initial.version = kTraceVersion;
  initial.state = Header::State::kRecording;
  initial.event_count = 0;
  RRL_TRY(write_header(dir, initial, /*durable=*/false));
  if (::mkdir((dir + "/files").c_str(), kDirMode) != 0)
    return fail_errno("cannot create " + dir + "/files");
  auto events = StreamWriter::create(dir + "/events");
  if (!events) return std::unexpected(events.error());
  TraceWriter w;
  w.dir_ = dir;
  w.syncer_ = std::make_unique<Syncer>();
  w.events_.emplace(std::move(*events));
  return w;
}

Status TraceWriter::check_open() const {
  if (!events_) return fail("the trace " + dir_ + " is already finished");
  return {};
}

Status TraceWriter::append(const Event& ev) {
  RRL_TRY(check_open());
  scratch_.clear();
  encode_event(ev, scratch_);
  RRL_TRY(events_->append(scratch_.data()));
  ++event_count_;
  return {};
}

Status TraceWriter::append_buffered(uint64_t number, int32_t tid, const BufferedSyscallView& e) {
  RRL_TRY(check_open());
  scratch_.clear();
  encode_buffered(number, tid, e, scratch_);
  RRL_TRY(events_->append(scratch_.data()));
  ++event_count_;
  return {};
}

Status TraceWriter::append_buffered_later(uint64_t first, int32_t tid, uint64_t count,
                                          BufferedViews views) {
  RRL_TRY(check_open());
  auto produce = [first, tid, count,
                  views = std::move(views)](std::vector<uint8_t>& out) mutable -> Status {
    ByteWriter w;
    uint64_t number = first;
    Status st;
    Status made = views([&](const BufferedSyscallView& e) {
      if (!st) return;
      w.clear();
      encode_buffered(number++, tid, e, w);
      st = StreamWriter::frame(out, w.data());
    });
    if (!made) return made;
    if (st && number != first + count)
      return fail(
          fmt::format("{} buffered syscalls were announced, {} came", count, number - first));
    return st;
  };
  RRL_TRY(events_->append_later(count, std::move(produce)));
  event_count_ += count;
  return {};
}

Status TraceWriter::flush_soon() {
  RRL_TRY(check_open());
  return events_->flush_soon();
}

Status TraceWriter::flush() {
  RRL_TRY(check_open());
  return events_->flush();
}

std::string TraceWriter::next_file_name(const std::string& original_path) {
  char num[16];
  std::snprintf(num, sizeof num, "%05u-", files_saved_++);
  return num + safe_base_name(original_path);
}

// Saved files are always copies (a reflink where the file system can). A hard
// link would be cheaper, but the recorded program could see it: the link
// count of /usr/bin/ls would read 2 under `ls -l`, and output must not change
// under recording. Executables stay executable, since replay execs them.
Status TraceWriter::copy_into_trace(int src, const std::string& dest, bool executable) {
  ScopedFd dst(
      ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, executable ? 0700 : 0600));
  if (!dst.valid()) return fail_errno("cannot create " + dest);
  auto st = copy_contents(src, dst.get(), dest);
  if (st) st = close_checked(dst, dest);
  if (!st) {
    ::unlink(dest.c_str());  // never leave a partial copy that looks whole
    return st;
  }
  // Synced now, on a thread of its own, while the program runs: waiting for
  // all of a program's libraries (or a 30 MB compiler) in finish() was most
  // of what recording a short program cost.
  syncer_->add(dest);
  return {};
}

Expected<std::string> TraceWriter::save_file(const std::string& path,
                                             const std::string& original_path) {
  RRL_TRY(check_open());
  const std::string& known_as = original_path.empty() ? path : original_path;
  ScopedFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src.valid()) return fail_errno("cannot open " + path + " to save " + known_as);
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return fail_errno("cannot stat " + path);
  // Copying a device such as /dev/zero would never end.
  if (!S_ISREG(st.st_mode))
    return fail("cannot save " + known_as + " in the trace: not a regular file");
  FileKey key{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  if (auto it = saved_.find(key); it != saved_.end()) return it->second;

  std::string name = next_file_name(known_as);
  std::string dest = dir_ + "/files/" + name;
  RRL_TRY(copy_into_trace(src.get(), dest, (st.st_mode & 0111) != 0));
  saved_.emplace(key, name);
  return name;
}

TraceWriter::TraceWriter(TraceWriter&&) noexcept = default;
TraceWriter& TraceWriter::operator=(TraceWriter&&) noexcept = default;
TraceWriter::~TraceWriter() = default;

Status TraceWriter::sync_saved_files() {
  RRL_TRY(syncer_->finish());
  return fsync_path(dir_ + "/files");
}

Status TraceWriter::finish(Header final) {
  RRL_TRY(check_open());
  auto st = events_->close();
  if (st) st = sync_saved_files();
  events_.reset();
  final.version = kTraceVersion;
  final.event_count = event_count_;
  if (!st) {
    // Best effort: say why the trace is unusable instead of leaving "recording".
    final.state = Header::State::kFailed;
    final.failure_reason = "could not finish the trace: " + st.error().describe();
    (void)write_header(dir_, final);
    return st;
  }
  return write_header(dir_, final);
}

Status TraceWriter::abandon(Header h) {
  RRL_TRY(check_open());
  if (h.state != Header::State::kInterrupted && h.state != Header::State::kFailed)
    return fail("abandon() needs the state interrupted or failed, not " + state_name(h.state));
  auto flushed = events_->flush();
  events_.reset();  // closes the stream without an end marker
  h.version = kTraceVersion;
  h.event_count = event_count_;
  if (!flushed && h.failure_reason.empty()) h.failure_reason = flushed.error().describe();
  auto written = write_header(dir_, h);
  if (!flushed) return flushed;
  return written;
}

}  // namespace rrl::trace
