#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/error.h"
#include "store/staged_message.h"
#include "store/user_store.h"

namespace popbridge::proxy::imap {

// The message literals of one APPEND command (MULTIAPPEND, literal8) while they arrive: each is
// written to its own StagedMessage in the user's tmp/ on worker threads, so no whole message is
// held in memory (STYLE.md 4.3) and the loop never waits on the disk (DESIGN.md). One write is
// in flight at a time; received bytes wait in a buffer of at most about kHighMark bytes, and the
// session stops reading from the client while full() says so.
//
// Destroying an upload whose staged messages were not taken removes their temporary files (on a
// worker). Loop thread only.
class AppendUpload {
 public:
  // Received bytes above which the session stops feeding the upload.
  static constexpr std::size_t kHighMark = 1024 * 1024;
  // Bytes collected before a write is started.
  static constexpr std::size_t kWriteChunk = 256 * 1024;

  // `on_progress` (may be empty) runs on the loop thread after each finished write, so the
  // session can resume reading; it is never called from inside a method of this class.
  AppendUpload(uv_loop_t* loop, std::shared_ptr<store::UserStore> store,
               std::function<void()> on_progress);
  ~AppendUpload();
  AppendUpload(const AppendUpload&) = delete;
  AppendUpload& operator=(const AppendUpload&) = delete;

  // A new message literal of `size` bytes (as announced) starts; the bytes that follow belong
  // to it.
  void begin(std::uint64_t size);
  // Bytes of the current literal; copied.
  void add(std::string_view bytes);
  // Literals begun so far.
  std::size_t count() const { return count_; }
  // The announced sizes of those literals, summed.
  std::uint64_t announcedBytes() const { return announced_bytes_; }
  // Whether the session should stop passing bytes until `on_progress` runs.
  bool full() const { return buffered_ >= kHighMark; }

  // The staged messages in order, every byte written, or the first error.
  using Staged = std::shared_ptr<std::vector<store::StagedMessage>>;
  using Done = std::function<void(store::Result<Staged>)>;
  // Calls `done` on the loop thread (never before returning) once every byte received has been
  // written. Call once, after the last add().
  void finish(Done done);

 private:
  struct State;
  struct Segment {
    bool starts_message = false;
    std::string bytes;
  };

 public:
  // The end of an upload handed to the caller's own worker job (the commit), so that the last
  // bytes are written and the messages committed in one trip to a worker instead of two.
  class Tail {
   public:
    // On a worker: writes the bytes not yet written and returns every staged message, or the
    // first error (the messages staged so far are then removed, here). Call once.
    store::Result<Staged> complete();

   private:
    friend class AppendUpload;
    std::shared_ptr<State> state_;
    std::shared_ptr<store::UserStore> store_;
    std::vector<Segment> segments_;
  };
  // Instead of finish(), after the last add(), when no write is in flight: what was staged so far
  // and the bytes still to write. The upload holds nothing afterwards (its destructor removes
  // nothing). nullopt while a write is in flight: use finish() then.
  std::optional<Tail> takeTail();

 private:
  // Worker side of a write: starts a staged message where a segment says so and appends the
  // bytes; after the first error the rest is dropped.
  static void writeSegments(State& state, store::UserStore& store,
                            const std::vector<Segment>& segments);
  void flush();
  void onWritten();

  uv_loop_t* loop_;
  std::shared_ptr<store::UserStore> store_;
  std::function<void()> on_progress_;
  std::shared_ptr<State> state_;  // touched by a worker while write_in_flight_
  std::shared_ptr<bool> alive_;
  std::vector<Segment> pending_;  // received, not yet handed to a worker
  std::size_t buffered_ = 0;      // bytes in pending_ and in the write in flight
  std::size_t in_flight_ = 0;     // bytes of the write in flight
  std::size_t count_ = 0;
  std::uint64_t announced_bytes_ = 0;
  bool write_in_flight_ = false;
  Done done_;
};

}  // namespace popbridge::proxy::imap
