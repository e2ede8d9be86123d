#include "proxy/server/user_context.h"

#include <chrono>
#include <string>
#include <utility>

#include "proxy/server/index_scheduler.h"
#include "proxy/server/log.h"
#include "proxy/server/mailbox_hub.h"

namespace popbridge::proxy {

UserContext::UserContext(uv_loop_t* loop, std::string name, std::shared_ptr<store::UserStore> store,
                         MailboxHub& hub, std::size_t index_batch)
    : loop_(loop),
      name_(std::move(name)),
      store_(std::move(store)),
      hub_(hub),
      index_batch_(index_batch) {}

UserContext::~UserContext() {
  if (index_scheduler_ != nullptr) index_scheduler_->forget(*this);
}

void UserContext::notePulledUsage(const store::QuotaUsage& usage) {
  const bool over_bytes = quota_limits_.bytes && usage.bytes > *quota_limits_.bytes;
  const bool over_messages = quota_limits_.messages && usage.messages > *quota_limits_.messages;
  if (!over_bytes && !over_messages) {
    over_quota_warned_ = false;
    return;
  }
  if (over_quota_warned_) return;
  over_quota_warned_ = true;
  log(LogSeverity::Warn, name_, "over quota after a POP pull (", usage.bytes, " bytes in ",
      usage.messages, " messages; limits ",
      quota_limits_.bytes ? std::to_string(*quota_limits_.bytes) + " bytes" : "no storage limit",
      ", ",
      quota_limits_.messages ? std::to_string(*quota_limits_.messages) + " messages"
                             : "no message limit",
      "): mail is still pulled, but IMAP APPEND and COPY are refused");
}

void UserContext::enqueue(Job job) {
  queue_.push_back(std::move(job));
  if (!running_) startNext();
}

std::int64_t realtimeMicros() {
  // std::chrono::system_clock is CLOCK_REALTIME on Linux.
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void UserContext::publish(const std::vector<const store::ChangeSet*>& changes,
                          std::int64_t committed_us) {
  const bool timed = logEnabled(LogSeverity::Debug);
  for (const store::ChangeSet* change : changes) {
    if (!timed) {
      hub_.publish(name_, *change);
      continue;
    }
    // How long a commit takes to reach the sessions of its mailbox: from the commit on the
    // worker to the start of the fan-out on the loop thread, and the fan-out itself (every
    // idling session's untagged responses handed to its socket). bench/imap_bench.py reads it.
    const std::int64_t start_us = realtimeMicros();
    const std::size_t sessions = hub_.publish(name_, *change);
    const std::int64_t end_us = realtimeMicros();
    log(LogSeverity::Debug, name_, "published mailbox ", change->mailbox_id, " modseq ",
        change->highestmodseq, " (", change->appended.size(), " appended, ",
        change->flag_changes.size(), " flag changes, ", change->expunged.size(), " expunged) to ",
        sessions, " sessions: commit_us=", committed_us, " publish_us=", start_us,
        " done_us=", end_us);
  }
}

void UserContext::indexSoon() {
  index_wanted_ = true;
  if (!running_) startNext();
}

void UserContext::stopIndexing() { index_stopped_ = true; }

void UserContext::startNext() {
  if (queue_.empty()) {
    running_ = false;
    if (index_wanted_ && !index_stopped_) {
      if (index_scheduler_ != nullptr) {
        index_scheduler_->want(*this);
      } else {
        startIndexJob();
      }
    }
    return;
  }
  running_ = true;
  auto job = std::make_shared<Job>(std::move(queue_.front()));
  queue_.pop_front();
  runOnWorker(
      loop_, [job] { job->work(); },
      // The UserContext outlives the loop's last turn (the daemon runs the loop dry before
      // destroying it), and this runs on the loop thread.
      [this, job] {
        job->done();
        index_wanted_ = true;  // the write may have added bodies to index
        startNext();
      });
}

bool UserContext::runScheduledIndexJob() {
  if (running_ || !index_wanted_ || index_stopped_) return false;
  scheduled_job_ = true;
  startIndexJob();
  return true;
}

void UserContext::startIndexJob() {
  running_ = true;
  struct Outcome {
    std::optional<store::Result<std::size_t>> indexed;
    std::chrono::steady_clock::duration took{};
  };
  auto outcome = std::make_shared<Outcome>();
  // In the background: the index job is not load that should hold back the next one.
  runOnWorkerInBackground(
      loop_,
      [store = store_, batch = index_batch_, outcome] {
        const auto start = std::chrono::steady_clock::now();
        outcome->indexed.emplace(store->indexPending(batch));
        outcome->took = std::chrono::steady_clock::now() - start;
      },
      // As for writes: the UserContext outlives the loop's last turn.
      [this, outcome] {
        const store::Result<std::size_t>& indexed = *outcome->indexed;
        std::size_t count = 0;
        if (!indexed) {
          // Tried again after the next write; search reads unindexed bodies from their blobs.
          log(LogSeverity::Warn, name_, "search indexing failed: ", indexed.error().message);
          index_wanted_ = false;
        } else if (*indexed == 0) {
          index_wanted_ = false;
        } else {
          count = *indexed;
          log(LogSeverity::Debug, name_, "indexed ", count, " bodies for search in ",
              std::chrono::duration_cast<std::chrono::milliseconds>(outcome->took).count(), " ms");
        }
        if (index_observer_) index_observer_(count);
        if (std::exchange(scheduled_job_, false)) index_scheduler_->jobDone();
        startNext();
      });
}

}  // namespace popbridge::proxy
