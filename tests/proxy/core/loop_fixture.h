#pragma once

// Test support for tests/proxy/core: a fresh loop per test, a bounded "run until", and the
// STYLE.md 5.7 check that every test leaves no handle behind and uv_loop_close() succeeds.

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>

namespace popbridge::proxy::testing {

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override {
    // Run dry: close callbacks and cancelled requests still have to come through.
    const bool drained = runUntil([this] { return uv_loop_alive(&loop_) == 0; },
                                  std::chrono::seconds(10), /*wake=*/false);
    EXPECT_TRUE(drained) << "handles or requests still active at the end of the test";
    if (!drained) {
      uv_walk(
          &loop_,
          [](uv_handle_t* handle, void*) {
            if (uv_is_closing(handle) == 0) {
              uv_close(handle, nullptr);  // leaks the memory; the test has failed anyway
            }
          },
          nullptr);
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Runs the loop until `done()` holds or `limit` passes; returns whether `done()` held.
  // With `wake`, a private timer ticks every few milliseconds so the condition is rechecked
  // even when no other event arrives.
  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(20), bool wake = true) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    uv_timer_t* ticker = nullptr;
    if (wake) {
      ticker = new uv_timer_t{};
      uv_timer_init(&loop_, ticker);
      uv_timer_start(
          ticker, [](uv_timer_t*) {}, 5, 5);
    }
    bool ok = done();
    while (!ok && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, wake ? UV_RUN_ONCE : UV_RUN_NOWAIT);
      ok = done();
    }
    if (ticker != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(ticker),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    return ok;
  }

  uv_loop_t* loop() { return &loop_; }

 private:
  uv_loop_t loop_{};
};

}  // namespace popbridge::proxy::testing
