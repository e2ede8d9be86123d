#include "proxy/server/index_scheduler.h"

#include <algorithm>
#include <utility>

#include "proxy/server/user_context.h"

namespace popbridge::proxy {

IndexScheduler::IndexScheduler(uv_loop_t* loop, Options options)
    : options_(std::move(options)), timer_(loop), last_end_(options_.now()) {}

void IndexScheduler::want(UserContext& user) {
  if (stopped_ || !queued_.insert(&user).second) return;
  waiting_.push_back(&user);
  schedule();
}

void IndexScheduler::forget(UserContext& user) {
  if (queued_.erase(&user) == 0) return;
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &user));
}

void IndexScheduler::jobDone() {
  running_ = false;
  last_end_ = options_.now();
  schedule();
}

void IndexScheduler::stop() {
  stopped_ = true;
  waiting_.clear();
  queued_.clear();
  timer_.stop();
}

void IndexScheduler::schedule() {
  if (stopped_ || running_ || waiting_.empty() || timer_.active()) return;
  // Looked at from the timer, never from inside want() or jobDone().
  timer_.start(std::chrono::milliseconds(0), [this] { poll(); });
}

void IndexScheduler::poll() {
  if (stopped_ || running_ || waiting_.empty()) return;
  const WorkerActivity load = options_.activity();
  const auto now = options_.now();
  const bool idle =
      load.in_flight == 0 && load.spans == 0 && now - load.last_queued >= options_.quiet;
  const auto gap =
      load.spans > 0 ? std::max(options_.busy_gap, options_.pull_gap) : options_.busy_gap;
  if (!idle && now - last_end_ < gap) {
    timer_.start(options_.poll, [this] { poll(); });
    return;
  }
  while (!waiting_.empty() && !running_) {
    UserContext* user = waiting_.front();
    waiting_.pop_front();
    queued_.erase(user);
    // False when the user has a write running or nothing left to index: it asks again after
    // the write.
    running_ = user->runScheduledIndexJob();
  }
}

}  // namespace popbridge::proxy
