#include "proxy/core/worker.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

namespace popbridge::proxy {
namespace {

struct WorkItem {
  uv_work_t request{};
  std::function<void()> work;
  std::function<void()> done;
  bool counted = false;  // foreground: part of workerActivity()
};

// Atomics although loop threads are the only users: tests run loops on several threads.
std::atomic<std::size_t> g_in_flight{0};
std::atomic<std::chrono::steady_clock::rep> g_last_queued{0};
std::atomic<std::size_t> g_spans{0};

void noteQueuedNow() {
  g_last_queued.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                      std::memory_order_relaxed);
}

void onWork(uv_work_t* request) noexcept {
  auto* item = static_cast<WorkItem*>(request->data);
  if (item->work) {
    item->work();
  }
}

void onDone(uv_work_t* request, int /*status*/) noexcept {
  // status is UV_ECANCELED only after uv_cancel, which popbridge never calls on work items;
  // `done` runs either way so its owner always hears back.
  std::unique_ptr<WorkItem> item(static_cast<WorkItem*>(request->data));
  if (item->counted) g_in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (item->done) {
    item->done();
  }
}

void queue(uv_loop_t* loop, std::function<void()> work, std::function<void()> done, bool counted) {
  auto item = std::make_unique<WorkItem>();
  item->work = std::move(work);
  item->done = std::move(done);
  item->counted = counted;
  item->request.data = item.get();
  if (counted) {
    g_in_flight.fetch_add(1, std::memory_order_relaxed);
    noteQueuedNow();
  }
  // uv_queue_work fails only for a null work callback, which cannot happen here.
  if (uv_queue_work(loop, &item->request, &onWork, &onDone) != 0) {
    std::abort();
  }
  item.release();  // owned by the request until onDone
}

}  // namespace

void runOnWorker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
  queue(loop, std::move(work), std::move(done), true);
}

void runOnWorkerInBackground(uv_loop_t* loop, std::function<void()> work,
                             std::function<void()> done) {
  queue(loop, std::move(work), std::move(done), false);
}

WorkerActivity workerActivity() {
  WorkerActivity out;
  out.in_flight = g_in_flight.load(std::memory_order_relaxed);
  out.last_queued = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(g_last_queued.load(std::memory_order_relaxed)));
  out.spans = g_spans.load(std::memory_order_relaxed);
  return out;
}

ForegroundSpan::ForegroundSpan() {
  g_spans.fetch_add(1, std::memory_order_relaxed);
  noteQueuedNow();
}

ForegroundSpan::~ForegroundSpan() { release(); }

ForegroundSpan& ForegroundSpan::operator=(ForegroundSpan&& other) noexcept {
  if (this != &other) {
    release();
    held_ = std::exchange(other.held_, false);
  }
  return *this;
}

void ForegroundSpan::release() noexcept {
  if (!std::exchange(held_, false)) return;
  noteQueuedNow();
  g_spans.fetch_sub(1, std::memory_order_relaxed);
}

void configureWorkerPool(unsigned threads) {
  const std::string value = std::to_string(threads);
  // overwrite = 0: an UV_THREADPOOL_SIZE from the environment stays. setenv fails only without
  // memory, and the pool then keeps libuv's default, which works, only slower under load.
  (void)setenv("UV_THREADPOOL_SIZE", value.c_str(), 0);
#ifdef __GLIBC__
  // glibc gives threads up to 8 malloc arenas per core, and each keeps the memory freed into it.
  // With the pool's threads staging bodies (64 KiB buffers, MIME parser state) and running
  // SQLite, a 10,000-message pull ended at 41 MiB peak RSS against 32 MiB with two arenas, at
  // no measurable cost in CPU (bench/pull_bench.py). An operator's MALLOC_ARENA_MAX stays.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) (void)mallopt(M_ARENA_MAX, kMallocArenas);
#endif
}

}  // namespace popbridge::proxy
