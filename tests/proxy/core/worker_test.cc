#include "proxy/core/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "tests/proxy/core/loop_fixture.h"

namespace popbridge::proxy {
namespace {

class WorkerTest : public testing::LoopTest {};

TEST_F(WorkerTest, WorkRunsOffTheLoopThreadAndDoneOnIt) {
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id work_thread;
  std::thread::id done_thread;
  bool done = false;
  int result = 0;
  runOnWorker(
      loop(),
      [&] {
        work_thread = std::this_thread::get_id();
        result = 6 * 7;
      },
      [&] {
        done_thread = std::this_thread::get_id();
        done = true;
      });
  EXPECT_FALSE(done);  // never before runOnWorker returns
  ASSERT_TRUE(runUntil([&] { return done; }));
  EXPECT_NE(work_thread, loop_thread);
  EXPECT_EQ(done_thread, loop_thread);
  EXPECT_EQ(result, 42);  // done sees what work wrote
}

TEST_F(WorkerTest, ManyItemsAllComplete) {
  std::atomic<int> worked{0};
  int done = 0;
  for (int i = 0; i < 100; ++i) {
    runOnWorker(
        loop(), [&] { worked.fetch_add(1); }, [&] { ++done; });
  }
  ASSERT_TRUE(runUntil([&] { return done == 100; }));
  EXPECT_EQ(worked.load(), 100);
}

TEST_F(WorkerTest, DoneRunsWhenTheLoopIsRunDry) {
  bool done = false;
  runOnWorker(
      loop(), [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); },
      [&] { done = true; });
  uv_run(loop(), UV_RUN_DEFAULT);  // returns only once the work request completed
  EXPECT_TRUE(done);
}

TEST_F(WorkerTest, AForegroundSpanCountsAsLoadUntilItEnds) {
  const WorkerActivity before = workerActivity();
  std::optional<ForegroundSpan> span;
  span.emplace();
  EXPECT_EQ(workerActivity().spans, before.spans + 1);
  EXPECT_EQ(workerActivity().in_flight, before.in_flight);  // no worker job queued
  // Moved, still one span; the moved-from object releases nothing.
  ForegroundSpan moved(std::move(*span));
  span.reset();
  EXPECT_EQ(workerActivity().spans, before.spans + 1);
  const auto ended_after = std::chrono::steady_clock::now();
  { ForegroundSpan gone(std::move(moved)); }
  const WorkerActivity after = workerActivity();
  EXPECT_EQ(after.spans, before.spans);
  // Its end counts as foreground work queued then: background work waits a quiet time from it.
  EXPECT_GE(after.last_queued, ended_after);
}

TEST_F(WorkerTest, MoveAssignmentReleasesTheSpanItReplaces) {
  const std::size_t before = workerActivity().spans;
  ForegroundSpan first;
  ForegroundSpan second;
  EXPECT_EQ(workerActivity().spans, before + 2);
  first = std::move(second);
  EXPECT_EQ(workerActivity().spans, before + 1);
}

}  // namespace
}  // namespace popbridge::proxy
