#pragma once

// POSIX file helpers used inside the store. Not part of the store's public API.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "store/error.h"

namespace popbridge::store {

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  // Closes now; returns Io if close() reports an error (which can mean lost writes on NFS).
  Result<void> close(const std::filesystem::path& path_for_errors);

 private:
  int fd_ = -1;
};

// Error{Io} naming the operation, the path and strerror(errnum).
Error ioError(std::string_view what, const std::filesystem::path& path, int errnum);

// Creates a directory if absent (EEXIST is success). Does not fsync.
Result<void> makeDirectory(const std::filesystem::path& path);

// Opens the directory and fsyncs it, making renames and creations inside it durable.
Result<void> fsyncDirectory(const std::filesystem::path& path);

// Writes all of data, retrying on EINTR and short writes.
Result<void> writeAll(int fd, std::string_view data, const std::filesystem::path& path_for_errors);

// fsync(2), retrying on EINTR.
Result<void> fsyncFd(int fd, const std::filesystem::path& path_for_errors);

// syncfs(2) of the file system holding `fd`: every dirty file and directory on it written back,
// then the journal committed and the disk cache flushed. Io also when a write-back error anywhere
// on that file system was recorded since `fd` was opened or last passed here (Linux 5.8+).
Result<void> syncFilesystem(int fd, const std::filesystem::path& path_for_errors);

// 2*bytes lower-case hex characters from the kernel's random source (getrandom).
Result<std::string> randomHex(std::size_t bytes);

}  // namespace popbridge::store
