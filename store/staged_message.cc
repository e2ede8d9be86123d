#include "store/staged_message.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace popbridge::store {
namespace {
// Large enough that a typical message is one write(2); small enough to keep memory bounded.
constexpr std::size_t kBufferBytes = 64 * 1024;
}  // namespace

StagedMessage::StagedMessage(const UserStore* owner, std::filesystem::path tmp_path,
                             std::string blob_id, UniqueFd fd, std::uint64_t sync_errors_at_stage)
    : owner_(owner),
      tmp_path_(std::move(tmp_path)),
      blob_id_(std::move(blob_id)),
      fd_(std::move(fd)),
      sync_errors_at_stage_(sync_errors_at_stage) {}

StagedMessage::StagedMessage(StagedMessage&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      tmp_path_(std::move(other.tmp_path_)),
      blob_id_(std::move(other.blob_id_)),
      fd_(std::move(other.fd_)),
      sync_errors_at_stage_(other.sync_errors_at_stage_),
      buffer_(std::move(other.buffer_)),
      size_(other.size_),
      header_size_(other.header_size_),
      header_found_(other.header_found_),
      header_copy_(std::move(other.header_copy_)),
      line_state_(other.line_state_),
      failed_(other.failed_),
      finished_(other.finished_),
      committed_(std::exchange(other.committed_, true)),
      mime_(std::move(other.mime_)) {
  other.tmp_path_.clear();
}

StagedMessage& StagedMessage::operator=(StagedMessage&& other) noexcept {
  if (this != &other) {
    discard();
    owner_ = std::exchange(other.owner_, nullptr);
    tmp_path_ = std::move(other.tmp_path_);
    other.tmp_path_.clear();
    blob_id_ = std::move(other.blob_id_);
    fd_ = std::move(other.fd_);
    sync_errors_at_stage_ = other.sync_errors_at_stage_;
    buffer_ = std::move(other.buffer_);
    size_ = other.size_;
    header_size_ = other.header_size_;
    header_found_ = other.header_found_;
    header_copy_ = std::move(other.header_copy_);
    line_state_ = other.line_state_;
    failed_ = other.failed_;
    finished_ = other.finished_;
    committed_ = std::exchange(other.committed_, true);
    mime_ = std::move(other.mime_);
  }
  return *this;
}

StagedMessage::~StagedMessage() { discard(); }

void StagedMessage::discard() {
  fd_ = UniqueFd();
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  committed_ = true;
}

void StagedMessage::scanHeader(std::string_view bytes) {
  if (header_found_) return;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    switch (line_state_) {
      case LineState::Start:
      case LineState::StartCr:
        if (c == '\n') {
          header_found_ = true;
          header_size_ = size_ + i + 1;
          return;
        }
        line_state_ =
            (c == '\r' && line_state_ == LineState::Start) ? LineState::StartCr : LineState::Other;
        break;
      case LineState::Other:
        if (c == '\n') line_state_ = LineState::Start;
        break;
    }
  }
}

Result<void> StagedMessage::write(std::string_view bytes) {
  if (failed_ || finished_ || !fd_.valid()) {
    return fail(Error{ErrorCode::Internal, "write to a staged message that is not open"});
  }
  if (!header_found_) {
    scanHeader(bytes);
    // The part of `bytes` that belongs to the header, as far as the copy still has room.
    const std::uint64_t header_end = header_found_ ? header_size_ : size_ + bytes.size();
    const std::size_t in_header = static_cast<std::size_t>(header_end - size_);
    const std::size_t room = kHeaderCopyBytes - std::min(kHeaderCopyBytes, header_copy_.size());
    header_copy_.append(bytes.substr(0, std::min(in_header, room)));
  }
  mime_.feed(bytes);
  size_ += bytes.size();
  if (buffer_.size() + bytes.size() < kBufferBytes) {
    buffer_.append(bytes);
    return {};
  }
  if (auto flushed = flush(); !flushed) return flushed;
  if (bytes.size() >= kBufferBytes) {
    auto written = writeAll(fd_.get(), bytes, tmp_path_);
    if (!written) failed_ = true;
    return written;
  }
  buffer_.append(bytes);
  return {};
}

Result<bool> StagedMessage::sameBytesAs(const BodyReader& body) {
  if (failed_ || finished_ || !fd_.valid()) {
    return fail(Error{ErrorCode::Internal, "staged message is not open"});
  }
  if (size_ != body.size()) return false;
  if (auto flushed = flush(); !flushed) return fail(flushed.error());
  constexpr std::size_t kChunk = 64 * 1024;
  std::vector<char> ours(kChunk);
  std::vector<char> theirs(kChunk);
  for (std::uint64_t offset = 0; offset < size_;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size_ - offset));
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n =
          ::pread(fd_.get(), ours.data() + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(ioError("pread", tmp_path_, errno));
      if (n == 0) return fail(Error{ErrorCode::Io, "staged message shorter than written"});
      got += static_cast<std::size_t>(n);
    }
    auto read = body.read(offset, std::span<char>(theirs.data(), want));
    if (!read) return fail(read.error());
    if (*read != want || std::memcmp(ours.data(), theirs.data(), want) != 0) return false;
    offset += want;
  }
  return true;
}

Result<void> StagedMessage::flush() {
  if (buffer_.empty()) return {};
  auto written = writeAll(fd_.get(), buffer_, tmp_path_);
  buffer_.clear();
  if (!written) failed_ = true;
  return written;
}

Result<void> StagedMessage::finish(Sync sync) {
  if (finished_) return {};
  if (failed_ || !fd_.valid()) {
    return fail(Error{ErrorCode::Internal, "staged message is not usable"});
  }
  if (auto flushed = flush(); !flushed) return flushed;
  if (sync == Sync::File) {
    if (auto synced = fsyncFd(fd_.get(), tmp_path_); !synced) {
      failed_ = true;
      return synced;
    }
  }
  if (auto closed = fd_.close(tmp_path_); !closed) {
    failed_ = true;
    return closed;
  }
  finished_ = true;
  return {};
}

}  // namespace popbridge::store
