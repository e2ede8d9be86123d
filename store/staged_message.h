#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "protocols/mime/parser.h"
#include "store/body_reader.h"
#include "store/error.h"
#include "store/file_ops.h"

namespace popbridge::store {

class UserStore;

// A message body being written to the user's tmp/ directory, obtained from
// UserStore::stageMessage() and handed to UserStore::append(). Move-only. Destroying it before
// append() committed it removes the temporary file. Use from one thread at a time.
class StagedMessage {
 public:
  StagedMessage(StagedMessage&& other) noexcept;
  StagedMessage& operator=(StagedMessage&& other) noexcept;
  StagedMessage(const StagedMessage&) = delete;
  StagedMessage& operator=(const StagedMessage&) = delete;
  ~StagedMessage();

  // Appends bytes to the body (buffered; nothing is fsynced until append()). The caller keeps
  // ownership of `bytes`. After an error the message is unusable and append() refuses it.
  Result<void> write(std::string_view bytes);
  // Bytes written so far.
  std::uint64_t size() const { return size_; }
  // Bytes up to and including the first empty line (CRLF CRLF, or LF LF for bare-LF input); the
  // whole message while no empty line has been seen (RFC 5322 2.1: header, empty line, body).
  std::uint64_t headerSize() const { return header_found_ ? header_size_ : size_; }
  // The first kHeaderCopyBytes of the header (all of it when shorter), kept as it was written so
  // that append() can read the message's threading links without reading the file back.
  static constexpr std::size_t kHeaderCopyBytes = 64 * 1024;
  std::string_view headerPrefix() const { return header_copy_; }
  // Whether the bytes written so far are exactly those of `body` (an import that meets a message
  // already stored). Reads the temporary file back; Io on a read error.
  Result<bool> sameBytesAs(const BodyReader& body);

 private:
  friend class UserStore;
  StagedMessage(const UserStore* owner, std::filesystem::path tmp_path, std::string blob_id,
                UniqueFd fd, std::uint64_t sync_errors_at_stage);

  // How finish() makes the body durable.
  enum class Sync {
    File,      // fsync(2) of this file
    Deferred,  // none: the caller syncs the whole batch (UserStore::append, syncfs(2))
  };
  // Flushes the buffer, syncs as `sync` says and closes the file. Called by UserStore::append().
  Result<void> finish(Sync sync);
  void scanHeader(std::string_view bytes);
  Result<void> flush();
  void discard();

  enum class LineState { Start, StartCr, Other };

  const UserStore* owner_ = nullptr;
  std::filesystem::path tmp_path_;
  std::string blob_id_;
  UniqueFd fd_;
  // The owner's count of write-back errors seen by syncfs(2) when this file was created: a
  // higher count at commit time may mean this body's pages were lost (see UserStore::append).
  std::uint64_t sync_errors_at_stage_ = 0;
  std::string buffer_;
  std::uint64_t size_ = 0;
  std::uint64_t header_size_ = 0;
  bool header_found_ = false;
  std::string header_copy_;  // headerPrefix()
  LineState line_state_ = LineState::Start;
  bool failed_ = false;
  bool finished_ = false;
  bool committed_ = false;  // renamed into blobs/: the temp path no longer exists
  // MIME is parsed once, as the body is written (DESIGN.md); append() stores the structure.
  mime::Parser mime_;
};

}  // namespace popbridge::store
