#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <utility>

namespace popbridge::proxy {

// Runs `work` on libuv's thread pool, then `done` on the loop thread (uv_queue_work); used for
// SQLite writes and fsync, which the loop thread never waits on (DESIGN.md). `work` must not
// touch loop objects, and neither function may capture a raw session pointer: `done` should find
// its session by id and drop the result if it is gone (STYLE.md 5.4). `done` always runs, also
// while the loop is being run dry at shutdown. Call from the loop thread; never calls back before
// returning. An exception escaping either function terminates the process.
void runOnWorker(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

// The same for work nobody waits on (search indexing): it is left out of workerActivity(), so
// the daemon does not count its own background work as load.
void runOnWorkerInBackground(uv_loop_t* loop, std::function<void()> work,
                             std::function<void()> done);

// The pool's foreground load as the loop thread sees it: jobs queued by runOnWorker whose `done`
// has not run yet, when the latest of them was queued (or the latest ForegroundSpan ended), and
// the ForegroundSpans held. Background work decides by it whether the daemon is otherwise idle.
// Counted over every loop of the process.
struct WorkerActivity {
  std::size_t in_flight = 0;
  std::chrono::steady_clock::time_point last_queued{};
  std::size_t spans = 0;
};
WorkerActivity workerActivity();

// Foreground work that lasts longer than its worker jobs: a POP pull mid-session queues a write
// or a commit every few milliseconds, but between them it is busy on the loop thread (TLS,
// reply parsing) and the pool looks idle. While a span is held, workerActivity() counts it, so
// background work does not take those gaps for idleness; its end counts as a foreground job
// queued then, so the quiet time starts over. Movable, not copyable; create and destroy on a
// loop thread.
class ForegroundSpan {
 public:
  ForegroundSpan();
  ~ForegroundSpan();
  ForegroundSpan(ForegroundSpan&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  ForegroundSpan& operator=(ForegroundSpan&& other) noexcept;
  ForegroundSpan(const ForegroundSpan&) = delete;
  ForegroundSpan& operator=(const ForegroundSpan&) = delete;

 private:
  void release() noexcept;
  bool held_ = true;
};

// Threads in libuv's pool, which runs every store read and write of every user. libuv starts 4
// unless UV_THREADPOOL_SIZE says otherwise; a durable write holds its thread through its fsyncs,
// so four commits in flight (four busy users) left every other user's reads, even a LIST,
// waiting behind them.
inline constexpr unsigned kWorkerThreads = 32;

// malloc arenas the process keeps (glibc), unless MALLOC_ARENA_MAX says otherwise; see
// configureWorkerPool().
inline constexpr int kMallocArenas = 2;

// Sizes the pool to `threads` unless UV_THREADPOOL_SIZE is set already (the operator's choice
// wins), and caps glibc's malloc arenas at kMallocArenas (unless MALLOC_ARENA_MAX is set). libuv
// reads the variable once, when the pool starts at the first runOnWorker of the process, so call
// this before that; and before other threads exist, since it calls setenv.
void configureWorkerPool(unsigned threads = kWorkerThreads);

}  // namespace popbridge::proxy
