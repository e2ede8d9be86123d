#include "proxy/core/uv_handle.h"

#include <gtest/gtest.h>

#include <memory>

#include "tests/proxy/core/loop_fixture.h"

namespace popbridge::proxy {
namespace {

class UvHandleTest : public testing::LoopTest {};

int activeHandles(uv_loop_t* loop) {
  int count = 0;
  uv_walk(
      loop, [](uv_handle_t*, void* arg) { ++*static_cast<int*>(arg); }, &count);
  return count;
}

TEST_F(UvHandleTest, CloseIsIdempotentAndMemoryOutlivesTheOwner) {
  auto handle = std::make_unique<UvHandle<uv_timer_t>>(loop());
  ASSERT_NE(handle->get(), nullptr);
  EXPECT_FALSE(handle->closing());
  EXPECT_EQ(activeHandles(loop()), 1);
  handle->close();
  handle->close();
  EXPECT_TRUE(handle->closing());
  EXPECT_EQ(handle->get(), nullptr);
  // Owner gone before libuv ran the close callback: the loop still holds the handle, which
  // ASan would report as a use-after-free had it been freed early.
  handle.reset();
  EXPECT_EQ(activeHandles(loop()), 1);
  uv_run(loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(activeHandles(loop()), 0);
}

TEST_F(UvHandleTest, DestructorCloses) {
  {
    UvHandle<uv_tcp_t> tcp(loop());
    tcp.get()->data = &tcp;
    EXPECT_EQ(activeHandles(loop()), 1);
  }
  uv_run(loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(activeHandles(loop()), 0);
}

TEST_F(UvHandleTest, CloseClearsDataForLateCallbacks) {
  UvHandle<uv_timer_t> timer(loop());
  int marker = 0;
  timer.get()->data = &marker;
  uv_timer_t* raw = timer.get();
  timer.close();
  EXPECT_EQ(raw->data, nullptr);  // still valid memory until the close callback
  uv_run(loop(), UV_RUN_NOWAIT);
}

TEST_F(UvHandleTest, NeverInitialisedHandleIsFreedWithoutLibuv) {
  UvHandle<uv_async_t> async;
  EXPECT_NE(async.get(), nullptr);
  async.close();
  EXPECT_EQ(activeHandles(loop()), 0);
}

TEST_F(UvHandleTest, InitWithOwnFunction) {
  static int fired = 0;
  fired = 0;
  UvHandle<uv_async_t> async;
  ASSERT_EQ(async.init([this](uv_async_t* h) {
    return uv_async_init(loop(), h, [](uv_async_t*) { ++fired; });
  }),
            0);
  EXPECT_EQ(async.init([](uv_async_t*) { return 0; }), UV_EINVAL);  // only once
  uv_async_send(async.get());
  uv_run(loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(fired, 1);
}

TEST_F(UvHandleTest, HandleInitialisedDirectlyIsClosedThroughLibuv) {
  auto signal = std::make_unique<UvHandle<uv_signal_t>>();
  ASSERT_EQ(uv_signal_init(loop(), signal->get()), 0);
  EXPECT_EQ(activeHandles(loop()), 1);
  signal.reset();  // must go through uv_close, or the loop would keep a dangling handle
  EXPECT_EQ(activeHandles(loop()), 1);
  uv_run(loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(activeHandles(loop()), 0);
}

TEST_F(UvHandleTest, FailedInitIsFreedWithoutLibuv) {
  UvHandle<uv_timer_t> timer;
  EXPECT_EQ(timer.init([](uv_timer_t*) { return UV_ENOMEM; }), UV_ENOMEM);
  timer.close();
  EXPECT_EQ(activeHandles(loop()), 0);
}

TEST_F(UvHandleTest, MoveTransfersOwnership) {
  UvHandle<uv_timer_t> first(loop());
  uv_timer_t* raw = first.get();
  UvHandle<uv_timer_t> second(std::move(first));
  EXPECT_EQ(first.get(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from
  EXPECT_EQ(second.get(), raw);
  UvHandle<uv_timer_t> third(loop());
  third = std::move(second);  // closes third's own handle
  EXPECT_EQ(third.get(), raw);
  uv_run(loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(activeHandles(loop()), 1);
}

}  // namespace
}  // namespace popbridge::proxy
