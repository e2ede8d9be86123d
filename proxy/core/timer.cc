#include "proxy/core/timer.h"

#include <cstdint>
#include <utility>

namespace popbridge::proxy {

Timer::Timer(uv_loop_t* loop) : handle_(loop) { handle_.get()->data = this; }

Timer::~Timer() { handle_.close(); }

void Timer::start(std::chrono::milliseconds delay, std::function<void()> callback) {
  if (handle_.get() == nullptr) {
    return;
  }
  callback_ = std::move(callback);
  const auto ms = delay.count() < 0 ? 0 : static_cast<std::uint64_t>(delay.count());
  uv_timer_start(handle_.get(), &Timer::onTimer, ms, 0);
}

void Timer::stop() {
  if (handle_.get() != nullptr) {
    uv_timer_stop(handle_.get());
  }
  callback_ = nullptr;
}

bool Timer::active() const { return handle_.get() != nullptr && uv_is_active(handle_.base()) != 0; }

void Timer::onTimer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Timer*>(handle->data);
  if (self == nullptr) {
    return;
  }
  // Moved out first: the callback may restart this timer or destroy it.
  std::function<void()> callback = std::exchange(self->callback_, nullptr);
  if (callback) {
    callback();
  }
}

}  // namespace popbridge::proxy
