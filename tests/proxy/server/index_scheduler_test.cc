// IndexScheduler: users' search-indexing jobs wait until the daemon's foreground work has been
// quiet for a while (or, under sustained load, until the busy gap has passed), run one at a
// time in the whole daemon, and take turns between users.

#include "proxy/server/index_scheduler.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/core/worker.h"
#include "proxy/server/mailbox_hub.h"
#include "proxy/server/user_context.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::proxy {
namespace {

using store::testing::makeMessage;
using store::testing::newMessage;
using Clock = std::chrono::steady_clock;

class IndexSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    auto opened = store::Store::open(dir_.path());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
  }
  void TearDown() override {
    contexts_.clear();
    scheduler_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // The scheduler sees the load `busy_` says (and a clock the test moves) instead of the
  // process's worker pool.
  IndexScheduler& scheduler(std::chrono::milliseconds busy_gap,
                            std::chrono::milliseconds pull_gap = std::chrono::hours(1)) {
    IndexScheduler::Options options;
    options.quiet = std::chrono::milliseconds(50);
    options.busy_gap = busy_gap;
    options.pull_gap = pull_gap;
    options.poll = std::chrono::milliseconds(1);
    options.now = [this] { return now_; };
    options.activity = [this] {
      ++polls_;
      if (on_poll_) on_poll_();
      WorkerActivity load;
      load.in_flight = busy_ ? 1 : 0;
      load.last_queued = last_queued_;
      load.spans = pulls_;
      return load;
    };
    scheduler_ = std::make_unique<IndexScheduler>(&loop_, std::move(options));
    return *scheduler_;
  }

  UserContext& context(const std::string& name, std::size_t index_batch) {
    auto user = store_->user(name);
    EXPECT_TRUE(user.has_value()) << user.error().message;
    auto context = std::make_unique<UserContext>(&loop_, name, *user, hub_, index_batch);
    context->setIndexScheduler(scheduler_.get());
    context->setIndexObserver([this, name](std::size_t count) {
      events_.push_back(name + " index " + std::to_string(count) + " after " +
                        std::to_string(polls_) + " polls");
    });
    contexts_.push_back(std::move(context));
    return *contexts_.back();
  }

  void append(UserContext& context, std::size_t count) {
    const std::string name = context.name();
    context.write(
        [count](store::UserStore& user) {
          std::vector<store::NewMessage> batch;
          for (std::size_t i = 0; i < count; ++i) {
            batch.push_back(newMessage(user, makeMessage("m " + std::to_string(i), 300)));
          }
          return user.append("INBOX", std::move(batch));
        },
        [this, name](store::Result<store::ChangeSet> changes) {
          ASSERT_TRUE(changes.has_value()) << changes.error().message;
          events_.push_back(name + " write " + std::to_string(changes->appended.size()));
        });
  }

  store::testing::TempDir dir_;
  uv_loop_t loop_{};
  std::unique_ptr<store::Store> store_;
  MailboxHub hub_;
  std::unique_ptr<IndexScheduler> scheduler_;
  std::vector<std::unique_ptr<UserContext>> contexts_;
  std::vector<std::string> events_;
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(1));
  Clock::time_point last_queued_{};
  bool busy_ = false;
  std::size_t pulls_ = 0;  // ForegroundSpans held (POP pulls mid-session)
  int polls_ = 0;
  std::function<void()> on_poll_;
};

TEST_F(IndexSchedulerTest, IndexingWaitsUntilTheLoadStopsForTheQuietTime) {
  scheduler(std::chrono::hours(1));
  UserContext& alice = context("alice", 2);
  busy_ = true;
  on_poll_ = [this] {
    if (polls_ == 5) {
      // The load ends: the last foreground job was queued just now, so another quiet time
      // passes before indexing starts.
      busy_ = false;
      last_queued_ = now_;
    }
    if (polls_ > 5) now_ += std::chrono::milliseconds(20);
  };
  append(alice, 3);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Quiet from the 6th poll on; 50 ms of it by the 8th (20 ms per poll).
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 3", "alice index 2 after 8 polls",
                                               "alice index 1 after 9 polls",
                                               "alice index 0 after 10 polls"}));
  EXPECT_EQ(store_->user("alice").value()->indexPending(100).value(), 0u);
}

TEST_F(IndexSchedulerTest, SustainedLoadStillIndexesOneJobPerBusyGap) {
  scheduler(std::chrono::milliseconds(100));
  UserContext& alice = context("alice", 1);
  busy_ = true;
  last_queued_ = now_;
  on_poll_ = [this] {
    now_ += std::chrono::milliseconds(10);
    last_queued_ = now_;
  };
  append(alice, 2);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // 100 ms after the scheduler started (10 polls), then 100 ms after each job ended.
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 2", "alice index 1 after 10 polls",
                                               "alice index 1 after 20 polls",
                                               "alice index 0 after 30 polls"}));
}

TEST_F(IndexSchedulerTest, APullMidSessionHoldsIndexingBackThoughThePoolLooksIdle) {
  scheduler(std::chrono::hours(1));
  UserContext& alice = context("alice", 2);
  // Between its writes a pull leaves the pool idle for longer than the quiet time (it is busy
  // on the loop thread); only its span shows that it is still going.
  pulls_ = 1;
  on_poll_ = [this] {
    now_ += std::chrono::milliseconds(20);
    if (polls_ == 20) {
      // The pull ends; its end counts as foreground work queued then.
      pulls_ = 0;
      last_queued_ = now_;
    }
  };
  append(alice, 3);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // 50 ms of quiet after the 20th poll: the 23rd.
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 3", "alice index 2 after 23 polls",
                                               "alice index 1 after 24 polls",
                                               "alice index 0 after 25 polls"}));
}

TEST_F(IndexSchedulerTest, ALongPullLetsOneJobThroughPerPullGap) {
  scheduler(std::chrono::milliseconds(100), std::chrono::milliseconds(300));
  UserContext& alice = context("alice", 1);
  pulls_ = 1;
  busy_ = true;  // the pull's writes keep the pool busy too
  on_poll_ = [this] {
    now_ += std::chrono::milliseconds(10);
    last_queued_ = now_;
  };
  append(alice, 2);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // 300 ms (30 polls) apart instead of busy_gap's 100.
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 2", "alice index 1 after 30 polls",
                                               "alice index 1 after 60 polls",
                                               "alice index 0 after 90 polls"}));
}

TEST_F(IndexSchedulerTest, WhenThePullEndsTheBusyGapAppliesAgain) {
  scheduler(std::chrono::milliseconds(100), std::chrono::milliseconds(300));
  UserContext& alice = context("alice", 1);
  pulls_ = 1;
  busy_ = true;
  on_poll_ = [this] {
    now_ += std::chrono::milliseconds(10);
    last_queued_ = now_;
    if (polls_ == 35) pulls_ = 0;  // other load goes on
  };
  append(alice, 2);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // The first job after the pull gap (30 polls); the pull ends at 35, so the next ones follow
  // the busy gap: 100 ms (10 polls) after each job ended.
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 2", "alice index 1 after 30 polls",
                                               "alice index 1 after 40 polls",
                                               "alice index 0 after 50 polls"}));
}

TEST_F(IndexSchedulerTest, TheProcessWideSpanOfARealPullHoldsIndexingBack) {
  // The scheduler's own view of the load (workerActivity), not the test's.
  IndexScheduler::Options options;
  options.quiet = std::chrono::milliseconds(20);
  options.busy_gap = std::chrono::hours(1);
  options.poll = std::chrono::milliseconds(1);
  options.activity = [this] {
    ++polls_;
    if (on_poll_) on_poll_();
    return workerActivity();
  };
  scheduler_ = std::make_unique<IndexScheduler>(&loop_, std::move(options));
  UserContext& alice = context("alice", 5);
  auto pull = std::make_unique<ForegroundSpan>();
  on_poll_ = [&] {
    // Held for 50 polls (at least 50 ms of an idle pool), then the pull ends.
    if (polls_ == 50) pull.reset();
  };
  append(alice, 1);
  uv_run(&loop_, UV_RUN_DEFAULT);
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0], "alice write 1");
  const int first_index_poll = std::stoi(events_[1].substr(events_[1].rfind("after ") + 6));
  EXPECT_GT(first_index_poll, 50) << events_[1];
  EXPECT_EQ(events_[1].substr(0, 14), "alice index 1 ");
}

TEST_F(IndexSchedulerTest, UsersTakeTurnsOneJobAtATime) {
  scheduler(std::chrono::hours(1));
  UserContext& alice = context("alice", 1);
  UserContext& bob = context("bob", 1);
  std::vector<std::string> jobs;
  for (UserContext* user : {&alice, &bob}) {
    user->setIndexObserver([&jobs, user](std::size_t count) {
      jobs.push_back(user->name() + " " + std::to_string(count));
    });
  }
  // Held back until both writes are done, so both users wait for a turn.
  busy_ = true;
  on_poll_ = [this] {
    if (events_.size() == 2) busy_ = false;
  };
  append(alice, 2);
  append(bob, 2);
  uv_run(&loop_, UV_RUN_DEFAULT);
  ASSERT_EQ(events_.size(), 2u);
  ASSERT_EQ(jobs.size(), 6u);
  // Alternating, whoever went first: 1, 1, 0 each.
  const std::string first = jobs[0].substr(0, jobs[0].find(' '));
  const std::string second = first == "alice" ? "bob" : "alice";
  EXPECT_EQ(jobs, (std::vector<std::string>{first + " 1", second + " 1", first + " 1",
                                            second + " 1", first + " 0", second + " 0"}));
}

TEST_F(IndexSchedulerTest, AWriteQueuedDuringItsTurnGoesFirst) {
  scheduler(std::chrono::hours(1));
  UserContext& alice = context("alice", 1);
  append(alice, 1);
  bool added = false;
  alice.setIndexObserver([this, &alice, &added](std::size_t count) {
    events_.push_back("alice index " + std::to_string(count));
    if (!added) {
      added = true;
      append(alice, 1);
    }
  });
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 1", "alice index 1", "alice write 1",
                                               "alice index 1", "alice index 0"}));
}

TEST_F(IndexSchedulerTest, StopAndDestroyedUsersLeaveNothingRunning) {
  scheduler(std::chrono::hours(1));
  UserContext& alice = context("alice", 1);
  context("bob", 1);
  busy_ = true;
  on_poll_ = [this] {
    if (events_.size() == 2 && contexts_.size() == 2) {
      // Both writes done: bob goes while alice waits for her turn; then the daemon stops.
      contexts_.pop_back();
      scheduler_->stop();
    }
  };
  append(alice, 2);
  append(*contexts_.back(), 1);
  uv_run(&loop_, UV_RUN_DEFAULT);
  std::sort(events_.begin(), events_.end());
  EXPECT_EQ(events_, (std::vector<std::string>{"alice write 2", "bob write 1"}));
  EXPECT_EQ(scheduler_->waitingForTest(), 0u);
  EXPECT_EQ(store_->user("alice").value()->indexPending(100).value(), 2u);
}

}  // namespace
}  // namespace popbridge::proxy
