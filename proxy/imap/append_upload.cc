#include "proxy/imap/append_upload.h"

#include <optional>
#include <utility>

#include "proxy/core/worker.h"

namespace popbridge::proxy::imap {

struct AppendUpload::State {
  std::vector<store::StagedMessage> staged;
  std::optional<store::Error> error;
};

AppendUpload::AppendUpload(uv_loop_t* loop, std::shared_ptr<store::UserStore> store,
                           std::function<void()> on_progress)
    : loop_(loop),
      store_(std::move(store)),
      on_progress_(std::move(on_progress)),
      state_(std::make_shared<State>()),
      alive_(std::make_shared<bool>(true)) {}

AppendUpload::~AppendUpload() {
  alive_.reset();
  // A write in flight keeps the state; its completion sees the upload gone and removes the
  // files then. Otherwise they are removed now, off the loop thread.
  if (!write_in_flight_ && state_ && !state_->staged.empty()) {
    runOnWorker(
        loop_, [state = std::move(state_)]() mutable { state.reset(); }, [] {});
  }
}

void AppendUpload::begin(std::uint64_t size) {
  ++count_;
  announced_bytes_ += size;
  pending_.push_back(Segment{true, {}});
}

void AppendUpload::add(std::string_view bytes) {
  if (bytes.empty()) return;
  if (pending_.empty()) pending_.push_back(Segment{false, {}});
  pending_.back().bytes.append(bytes);
  buffered_ += bytes.size();
  if (!write_in_flight_ && buffered_ >= kWriteChunk) flush();
}

void AppendUpload::finish(Done done) {
  done_ = std::move(done);
  if (!write_in_flight_) flush();
}

void AppendUpload::writeSegments(State& state, store::UserStore& store,
                                 const std::vector<Segment>& segments) {
  for (const Segment& segment : segments) {
    if (state.error) return;  // the rest of the command is read but not kept
    if (segment.starts_message) {
      auto staged = store.stageMessage();
      if (!staged) {
        state.error = staged.error();
        return;
      }
      state.staged.push_back(std::move(*staged));
    }
    if (segment.bytes.empty()) continue;
    if (auto written = state.staged.back().write(segment.bytes); !written) {
      state.error = written.error();
    }
  }
}

std::optional<AppendUpload::Tail> AppendUpload::takeTail() {
  if (write_in_flight_ || !state_) return std::nullopt;
  Tail tail;
  tail.state_ = std::move(state_);
  tail.store_ = store_;
  tail.segments_ = std::move(pending_);
  pending_.clear();
  buffered_ = 0;
  return tail;
}

store::Result<AppendUpload::Staged> AppendUpload::Tail::complete() {
  const std::shared_ptr<State> state = std::move(state_);
  writeSegments(*state, *store_, segments_);
  segments_.clear();
  if (state->error) {
    state->staged.clear();  // removes the staged files, on this worker
    return fail(*state->error);
  }
  return std::make_shared<std::vector<store::StagedMessage>>(std::move(state->staged));
}

void AppendUpload::flush() {
  write_in_flight_ = true;
  std::vector<Segment> segments = std::move(pending_);
  pending_.clear();
  in_flight_ = buffered_;
  std::weak_ptr<bool> alive = alive_;
  runOnWorker(
      loop_,
      [state = state_, store = store_, segments = std::move(segments)] {
        writeSegments(*state, *store, segments);
      },
      [this, alive, state = state_, loop = loop_]() mutable {
        if (alive.expired()) {
          // The session went away mid-command: remove what was staged, off the loop.
          runOnWorker(
              loop, [state = std::move(state)]() mutable { state.reset(); }, [] {});
          return;
        }
        onWritten();
      });
}

void AppendUpload::onWritten() {
  write_in_flight_ = false;
  buffered_ -= in_flight_;
  in_flight_ = 0;
  if (done_) {
    if (!pending_.empty()) {
      flush();
      return;
    }
    Done done = std::move(done_);
    done_ = nullptr;
    if (state_->error) {
      done(fail(*state_->error));
      return;
    }
    done(std::make_shared<std::vector<store::StagedMessage>>(std::move(state_->staged)));
    return;
  }
  if (buffered_ >= kWriteChunk) flush();
  // The session may drop this upload from inside the callback: call a copy, touch nothing after.
  if (std::function<void()> progress = on_progress_) progress();
}

}  // namespace popbridge::proxy::imap
