#pragma once

#include <uv.h>

#include <functional>

namespace popbridge::proxy {

// Runs `work` on libuv's thread pool, then `done` on the loop thread (uv_queue_work); used for
// SQLite writes and fsync, which the loop thread never waits on (DESIGN.md). `work` must not
// touch loop objects, and neither function may capture a raw session pointer: `done` should find
// its session by id and drop the result if it is gone (STYLE.md 5.4). `done` always runs, also
// while the loop is being run dry at shutdown. Call from the loop thread; never calls back before
// returning. An exception escaping either function terminates the process.
void runOnWorker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

}  // namespace popbridge::proxy
