#include "proxy/core/worker.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace popbridge::proxy
