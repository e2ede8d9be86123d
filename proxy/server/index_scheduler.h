#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <unordered_set>

#include "proxy/core/timer.h"
#include "proxy/core/worker.h"

namespace popbridge::proxy {

class UserContext;

// Decides when the daemon's users run their deferred search-indexing jobs
// (UserStore::indexPending). Indexing costs CPU (a trigram per character of text) and holds the
// user's write lock, and nobody waits for it: search reads unindexed bodies from their blobs. So
// it yields to the work clients wait for:
// - one index job runs at a time in the whole daemon, whatever the number of users;
// - a job starts when the daemon is otherwise idle: no foreground work in flight on the worker
//   pool (workerActivity: store reads and writes, fetch rounds, password checks), no
//   ForegroundSpan held (a POP pull mid-session), and none of either for `quiet`;
// - under sustained load, so that the index still catches up, one job starts `busy_gap` after
//   the previous one ended, whatever the load; while a pull is under way, `pull_gap` after it.
//   A pull adds bodies far faster than a job indexes them (1,000 a second against 16 a job), so
//   jobs during it cannot catch up; each only takes CPU from the pull and holds back its next
//   commit (the job holds the user's write lock). The longer gap still lets other users' jobs
//   through under pulls that never stop.
// Users take turns (a user whose job indexed something queues again at the back).
// Loop thread only; never calls back from inside its own methods.
class IndexScheduler {
 public:
  struct Options {
    std::chrono::milliseconds quiet{50};
    std::chrono::milliseconds busy_gap{1000};
    std::chrono::milliseconds pull_gap{10000};
    // How often a waiting scheduler looks at the load.
    std::chrono::milliseconds poll{10};
    // Where the load and the time come from (tests inject their own).
    std::function<WorkerActivity()> activity = workerActivity;
    std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  };

  // `loop` is borrowed and must outlive the scheduler.
  IndexScheduler(uv_loop_t* loop, Options options);
  explicit IndexScheduler(uv_loop_t* loop) : IndexScheduler(loop, Options()) {}
  IndexScheduler(const IndexScheduler&) = delete;
  IndexScheduler& operator=(const IndexScheduler&) = delete;

  // `user` (borrowed; it calls forget() before it goes) has bodies to index and no write
  // running: it gets runScheduledIndexJob() when its turn comes. Asking twice queues it once.
  void want(UserContext& user);
  // `user` no longer wants a turn (it is being destroyed).
  void forget(UserContext& user);
  // The index job a runScheduledIndexJob() started has finished (on the loop thread).
  void jobDone();
  // No job starts any more (shutdown); closes the timer.
  void stop();

  std::size_t waitingForTest() const { return waiting_.size(); }

 private:
  void schedule();
  void poll();

  Options options_;
  Timer timer_;
  std::deque<UserContext*> waiting_;
  std::unordered_set<UserContext*> queued_;
  bool running_ = false;  // a job is on a worker
  bool stopped_ = false;
  std::chrono::steady_clock::time_point last_end_;
};

}  // namespace popbridge::proxy
