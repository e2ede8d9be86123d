#include "proxy/core/worker.h"

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
};

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
  if (item->done) {
    item->done();
  }
}

}  // namespace

void runOnWorker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
  auto item = std::make_unique<WorkItem>();
  item->work = std::move(work);
  item->done = std::move(done);
  item->request.data = item.get();
  // uv_queue_work fails only for a null work callback, which cannot happen here.
  if (uv_queue_work(loop, &item->request, &onWork, &onDone) != 0) {
    std::abort();
  }
  item.release();  // owned by the request until onDone
}

void configureWorkerPool(unsigned threads) {
  const std::string value = std::to_string(threads);
  // overwrite = 0: an UV_THREADPOOL_SIZE from the environment stays. setenv fails only without
  // memory, and the pool then keeps libuv's default, which works, only slower under load.
  (void)setenv("UV_THREADPOOL_SIZE", value.c_str(), 0);
}

}  // namespace popbridge::proxy
