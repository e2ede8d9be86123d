#pragma once

#include <uv.h>

#include <cstdlib>
#include <type_traits>
#include <utility>

namespace popbridge::proxy {

// Owns one heap-allocated libuv handle of type T (uv_tcp_t, uv_timer_t, uv_async_t, ...)
// (STYLE.md 5.1). libuv keeps using a handle until its close callback has run, so the memory is
// released there and never earlier — even when this owner is destroyed first: the destructor
// calls close() and the handle lives on, detached, until libuv is done with it.
//
// The owner stores a pointer to itself in handle->data for callbacks to find it; close() resets
// data to nullptr first, so a callback libuv still delivers while closing (a write completing
// with UV_ECANCELED, say) sees nullptr and must not touch the owner.
//
// Loop thread only. Movable, not copyable.
template <class T>
class UvHandle {
 public:
  // Allocates an uninitialised handle. Call init() with the matching uv_*_init before use.
  UvHandle() : handle_(new T{}) {}

  // Allocates and initialises a handle whose init function takes only the loop (uv_tcp_t,
  // uv_timer_t, uv_idle_t, uv_prepare_t, uv_check_t). Aborts if libuv refuses: these inits
  // cannot fail on a valid loop.
  explicit UvHandle(uv_loop_t* loop) : handle_(new T{}) {
    const int rc = init([loop](T* h) { return initWithLoop(loop, h); });
    if (rc != 0) {
      std::abort();
    }
  }

  ~UvHandle() { close(); }

  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        init_(std::exchange(other.init_, Init::Unknown)),
        closing_(std::exchange(other.closing_, false)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
      init_ = std::exchange(other.init_, Init::Unknown);
      closing_ = std::exchange(other.closing_, false);
    }
    return *this;
  }

  // Runs `init_fn(get())` (e.g. a lambda calling uv_tcp_init) and returns its libuv status. On 0
  // the handle is known to libuv and close() will go through uv_close. Calling uv_*_init on
  // get() directly works too: close() then recognises an initialised handle by its type field.
  template <class InitFn>
  int init(InitFn&& init_fn) {
    if (handle_ == nullptr || init_ != Init::Unknown) {
      return UV_EINVAL;
    }
    const int rc = std::forward<InitFn>(init_fn)(handle_);
    init_ = rc == 0 ? Init::Done : Init::Failed;
    return rc;
  }

  // The handle, borrowed; nullptr once close() was called.
  T* get() const { return handle_; }
  // The same handle as the generic libuv type, for uv_close/uv_is_active and friends.
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  // The same handle as a stream (uv_tcp_t, uv_pipe_t, uv_tty_t only).
  uv_stream_t* stream() const {
    static_assert(std::is_same_v<T, uv_tcp_t> || std::is_same_v<T, uv_pipe_t> ||
                  std::is_same_v<T, uv_tty_t>);
    return reinterpret_cast<uv_stream_t*>(handle_);
  }

  // Starts closing: clears handle->data and calls uv_close; the memory goes in the close
  // callback. A handle libuv never saw is freed at once. Idempotent; never calls back.
  void close() {
    if (handle_ == nullptr) {
      return;
    }
    T* handle = std::exchange(handle_, nullptr);
    closing_ = true;
    auto* base_handle = reinterpret_cast<uv_handle_t*>(handle);
    // The handle starts zeroed, so a set type means some uv_*_init registered it with a loop.
    const bool known_to_libuv =
        init_ == Init::Done || (init_ == Init::Unknown && base_handle->type != UV_UNKNOWN_HANDLE);
    if (!known_to_libuv) {
      delete handle;
      return;
    }
    base_handle->data = nullptr;
    uv_close(base_handle, &UvHandle::onClosed);
  }

  // True once close() was called (the memory may still be waiting for its close callback).
  bool closing() const { return closing_; }

 private:
  static void onClosed(uv_handle_t* handle) noexcept { delete reinterpret_cast<T*>(handle); }

  static int initWithLoop(uv_loop_t* loop, T* handle) {
    if constexpr (std::is_same_v<T, uv_tcp_t>) {
      return uv_tcp_init(loop, handle);
    } else if constexpr (std::is_same_v<T, uv_timer_t>) {
      return uv_timer_init(loop, handle);
    } else if constexpr (std::is_same_v<T, uv_idle_t>) {
      return uv_idle_init(loop, handle);
    } else if constexpr (std::is_same_v<T, uv_prepare_t>) {
      return uv_prepare_init(loop, handle);
    } else if constexpr (std::is_same_v<T, uv_check_t>) {
      return uv_check_init(loop, handle);
    } else {
      static_assert(sizeof(T) == 0, "this handle type needs init() with its own uv_*_init");
      return UV_EINVAL;
    }
  }

  enum class Init { Unknown, Done, Failed };

  T* handle_;
  Init init_ = Init::Unknown;
  bool closing_ = false;
};

}  // namespace popbridge::proxy
