#include "debugger/mailbox.h"

#include <chrono>

namespace rrl::debugger {

bool Mailbox::run(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  if (closed_) return false;
  uint64_t ticket = ++jobs_posted_;
  jobs_.push_back(std::move(job));
  changed_.notify_all();
  changed_.wait(lock, [&] { return closed_ || jobs_done_ >= ticket; });
  return jobs_done_ >= ticket;
}

uint64_t Mailbox::stops_published() {
  std::lock_guard lock(mutex_);
  return stops_;
}

gdb::StopEvent Mailbox::wait_stop(uint64_t seen, const std::function<bool()>& poll) {
  std::unique_lock lock(mutex_);
  while (!closed_ && stops_ <= seen) {
    changed_.wait_for(lock, std::chrono::milliseconds(20));
    if (stops_ > seen || closed_) break;
    lock.unlock();
    if (poll && poll()) interrupt_ = true;
    lock.lock();
  }
  return last_stop_;
}

void Mailbox::publish(const gdb::StopEvent& stop) {
  std::lock_guard lock(mutex_);
  last_stop_ = stop;
  stops_++;
  changed_.notify_all();
}

std::optional<std::function<void()>> Mailbox::take_job() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
  if (jobs_.empty()) return std::nullopt;
  auto job = std::move(jobs_.front());
  jobs_.pop_front();
  lock.unlock();
  // The job runs without the lock; it is marked done afterwards.
  struct Done {
    Mailbox* self;
    ~Done() {
      std::lock_guard lock(self->mutex_);
      self->jobs_done_++;
      self->changed_.notify_all();
    }
  };
  return [this, job = std::move(job)] {
    Done done{this};
    job();
  };
}

void Mailbox::close(const gdb::StopEvent& final_stop) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  last_stop_ = final_stop;
  stops_++;
  jobs_.clear();
  changed_.notify_all();
}

}  // namespace rrl::debugger
