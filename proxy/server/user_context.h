#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/core/worker.h"
#include "store/user_store.h"

namespace popbridge::proxy {

class IndexScheduler;
class MailboxHub;

// Microseconds since the Unix epoch by CLOCK_REALTIME: comparable with another process's clock on
// the same machine (the IMAP benchmark measures commit -> EXISTS with it). Any thread.
std::int64_t realtimeMicros();

// The change sets a committed write produced, in the order sessions should see them.
inline std::vector<const store::ChangeSet*> changeSetsOf(const store::ChangeSet& changes) {
  return {&changes};
}
// A MOVE expunges from the source after the copies exist in the destination (RFC 6851 3.3).
inline std::vector<const store::ChangeSet*> changeSetsOf(const store::TransferResult& result) {
  return {&result.destination, &result.source};
}

// One configured user's store handle and write queue. Writes of one user run one at a time,
// in submission order, on worker threads; each successful write's change sets are published
// to the hub before its completion runs, so every session sees changes in commit order.
//
// The queue also drives the store's deferred full-text indexing (UserStore::indexPending):
// after a write completes, once no write is waiting, index jobs of up to `index_batch` bodies
// run on the queue one at a time until one finds nothing pending. Writes queued meanwhile run
// before the next index job, so a write waits for at most one short job. With an
// IndexScheduler (the daemon's), each of those jobs waits for its turn there instead of
// starting at once: indexing then runs when the daemon is otherwise idle.
// Loop thread only (the store itself is used from workers).
class UserContext {
 public:
  static constexpr std::size_t kIndexBatch = 16;

  UserContext(uv_loop_t* loop, std::string name, std::shared_ptr<store::UserStore> store,
              MailboxHub& hub, std::size_t index_batch = kIndexBatch);
  // Leaves the scheduler's turn list.
  ~UserContext();
  UserContext(const UserContext&) = delete;
  UserContext& operator=(const UserContext&) = delete;

  const std::string& name() const { return name_; }
  // The user's store; shared with worker threads, which may call it concurrently.
  const std::shared_ptr<store::UserStore>& store() const { return store_; }

  using WriteWork = std::function<store::Result<store::ChangeSet>(store::UserStore&)>;
  using WriteDone = std::function<void(store::Result<store::ChangeSet>)>;

  // Queues `work` (run on a worker with the user's store); `done` (may be empty) runs on the
  // loop thread after the change set of a successful write was published.
  void write(WriteWork work, WriteDone done) {
    writeWith<store::ChangeSet>(std::move(work), std::move(done));
  }
  // The same for writes with another result type; changeSetsOf(T) names what to publish.
  template <class T>
  void writeWith(std::function<store::Result<T>(store::UserStore&)> work,
                 std::function<void(store::Result<T>)> done);

  // Reads run concurrently with writes: `work` on a worker, `done` on the loop thread.
  template <class T>
  void read(std::function<T(store::UserStore&)> work, std::function<void(T)> done);

  // Starts index jobs without a write, for bodies left pending by a migration or an earlier
  // run (the daemon calls it at start). stopIndexing() runs no further index job (shutdown;
  // one already running finishes).
  void indexSoon();
  void stopIndexing();
  // Index jobs wait for their turn in `scheduler` (borrowed, may be null: jobs start as soon as
  // the queue is idle). Set it before the first write; it must outlive this context.
  void setIndexScheduler(IndexScheduler* scheduler) { index_scheduler_ = scheduler; }
  // The scheduler's call when this user's turn comes: starts an index job and returns true, or
  // returns false when a write is running (the user asks again after it) or nothing is wanted.
  bool runScheduledIndexJob();
  // The user's quota limits from the configuration in force; the daemon sets them at start and
  // on every reload. IMAP writes are refused over them; a POP pull never is.
  void setQuotaLimits(const store::QuotaLimits& limits) { quota_limits_ = limits; }
  const store::QuotaLimits& quotaLimits() const { return quota_limits_; }
  // After a pull's commit: logs a warning when `usage` is over a limit, once until the usage is
  // under every limit again (mail is never left upstream because of a quota).
  void notePulledUsage(const store::QuotaUsage& usage);

  // Runs on the loop thread after each index job with how many bodies it took (0 after an
  // error as well).
  void setIndexObserver(std::function<void(std::size_t)> observer) {
    index_observer_ = std::move(observer);
  }

 private:
  struct Job {
    std::function<void()> work;  // worker thread
    std::function<void()> done;  // loop thread
  };
  void enqueue(Job job);
  void startNext();
  void startIndexJob();
  // `committed_us` (realtimeMicros()) is when the write's transaction had committed.
  void publish(const std::vector<const store::ChangeSet*>& changes, std::int64_t committed_us);

  uv_loop_t* loop_;
  std::string name_;
  std::shared_ptr<store::UserStore> store_;
  MailboxHub& hub_;
  std::deque<Job> queue_;
  bool running_ = false;  // a write or an index job is on a worker
  std::size_t index_batch_;
  bool index_wanted_ = false;  // bodies may be pending
  bool index_stopped_ = false;
  IndexScheduler* index_scheduler_ = nullptr;
  bool scheduled_job_ = false;  // the running index job came from the scheduler
  std::function<void(std::size_t)> index_observer_;
  store::QuotaLimits quota_limits_;
  bool over_quota_warned_ = false;
};

template <class T>
void UserContext::writeWith(std::function<store::Result<T>(store::UserStore&)> work,
                            std::function<void(store::Result<T>)> done) {
  struct Outcome {
    std::optional<store::Result<T>> result;
    std::int64_t committed_us = 0;
  };
  auto outcome = std::make_shared<Outcome>();
  enqueue(Job{[store = store_, work = std::move(work), outcome] {
                outcome->result.emplace(work(*store));
                // The write's transaction has committed (or failed) once `work` returns.
                outcome->committed_us = realtimeMicros();
              },
              [this, done = std::move(done), outcome] {
                store::Result<T>& result = *outcome->result;
                if (result) publish(changeSetsOf(*result), outcome->committed_us);
                if (done) done(std::move(result));
              }});
}

template <class T>
void UserContext::read(std::function<T(store::UserStore&)> work, std::function<void(T)> done) {
  auto result = std::make_shared<std::optional<T>>();
  runOnWorker(
      loop_, [store = store_, work = std::move(work), result] { result->emplace(work(*store)); },
      [done = std::move(done), result] { done(std::move(**result)); });
}

}  // namespace popbridge::proxy
