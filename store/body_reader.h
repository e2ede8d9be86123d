#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "store/error.h"
#include "store/file_ops.h"

namespace popbridge::store {

class UserStore;

// Read access to one immutable message body, from UserStore::openBody(). Move-only; owns an open
// file, so it stays readable even if the message is expunged meanwhile. Safe to use from any one
// thread at a time (reads use pread and keep no file position).
class BodyReader {
 public:
  BodyReader(BodyReader&&) noexcept = default;
  BodyReader& operator=(BodyReader&&) noexcept = default;
  BodyReader(const BodyReader&) = delete;
  BodyReader& operator=(const BodyReader&) = delete;
  ~BodyReader() = default;

  // The body's size in bytes (RFC822.SIZE).
  std::uint64_t size() const { return size_; }
  // Reads up to out.size() bytes at offset into the caller's buffer; returns bytes read (0 at end,
  // fewer than out.size() only at the end of the body). Io on a read error.
  Result<std::size_t> read(std::uint64_t offset, std::span<char> out) const;

 private:
  friend class UserStore;
  BodyReader(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}

  UniqueFd fd_;
  std::uint64_t size_ = 0;
};

}  // namespace popbridge::store
