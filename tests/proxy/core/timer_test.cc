#include "proxy/core/timer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "tests/proxy/core/loop_fixture.h"

namespace popbridge::proxy {
namespace {

using std::chrono::milliseconds;

class TimerTest : public testing::LoopTest {};

TEST_F(TimerTest, FiresOnceAfterDelay) {
  Timer timer(loop());
  int fired = 0;
  const auto start = std::chrono::steady_clock::now();
  timer.start(milliseconds(20), [&] { ++fired; });
  EXPECT_TRUE(timer.active());
  ASSERT_TRUE(runUntil([&] { return fired == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(19));
  EXPECT_FALSE(timer.active());
  runUntil([] { return false; }, milliseconds(40));
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, StopPreventsTheCallback) {
  Timer timer(loop());
  bool fired = false;
  timer.start(milliseconds(10), [&] { fired = true; });
  timer.stop();
  EXPECT_FALSE(timer.active());
  runUntil([] { return false; }, milliseconds(50));
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, RestartReplacesCallbackAndDelay) {
  Timer timer(loop());
  int which = 0;
  timer.start(milliseconds(10), [&] { which = 1; });
  timer.start(milliseconds(30), [&] { which = 2; });
  ASSERT_TRUE(runUntil([&] { return which != 0; }));
  EXPECT_EQ(which, 2);
}

TEST_F(TimerTest, CallbackMayRestartTheTimer) {
  Timer timer(loop());
  int fired = 0;
  std::function<void()> again = [&] {
    if (++fired < 3) {
      timer.start(milliseconds(1), again);
    }
  };
  timer.start(milliseconds(1), again);
  ASSERT_TRUE(runUntil([&] { return fired == 3; }));
}

TEST_F(TimerTest, CallbackMayDestroyTheTimer) {
  auto timer = std::make_unique<Timer>(loop());
  bool fired = false;
  timer->start(milliseconds(1), [&] {
    fired = true;
    timer.reset();
  });
  ASSERT_TRUE(runUntil([&] { return fired; }));
  EXPECT_EQ(timer, nullptr);
}

TEST_F(TimerTest, DestroyedWhilePendingNeverFires) {
  bool fired = false;
  {
    Timer timer(loop());
    timer.start(milliseconds(5), [&] { fired = true; });
  }
  runUntil([] { return false; }, milliseconds(30));
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace popbridge::proxy
