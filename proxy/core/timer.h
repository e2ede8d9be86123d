#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "proxy/core/uv_handle.h"

namespace popbridge::proxy {

// A one-shot timer on the loop (logout timers, connect timeouts, retry back-off).
// Loop thread only. The callback runs on the loop thread, never from inside start() or stop().
class Timer {
 public:
  // Initialises the timer on `loop` (borrowed; must outlive the handle's close).
  explicit Timer(uv_loop_t* loop);
  // Closes the handle; a pending callback never runs.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Calls `callback` once after `delay`. Restarts (dropping the old callback) if already
  // running. The callback may call start() again, stop(), or destroy this Timer.
  void start(std::chrono::milliseconds delay, std::function<void()> callback);
  // Cancels a pending callback; harmless when idle.
  void stop();
  // True between start() and the callback (or stop()).
  bool active() const;

 private:
  static void onTimer(uv_timer_t* handle) noexcept;

  UvHandle<uv_timer_t> handle_;
  std::function<void()> callback_;
};

}  // namespace popbridge::proxy
