#pragma once

// Small POSIX file helpers for import and export (the store's own are private to it).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "proxy/archive/archive_error.h"

namespace popbridge::proxy::archive {

// Owns a file descriptor. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// "what PATH: strerror(errnum)".
ArchiveError fileError(std::string_view what, const std::filesystem::path& path, int errnum);

// A file opened for reading, with its size and modification time (unix seconds).
struct InputFile {
  Fd fd;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};
Result<InputFile> openInput(const std::filesystem::path& path);

// Reads up to out.size() bytes (retrying EINTR); 0 at the end of the file.
Result<std::size_t> readSome(const Fd& fd, std::span<char> out, const std::filesystem::path& path);

// Writes all of `data` (retrying EINTR and short writes).
Result<void> writeAll(const Fd& fd, std::string_view data, const std::filesystem::path& path);

// Creates a directory if absent (mode 0700), like mkdir -p for one level.
Result<void> makeDirectory(const std::filesystem::path& path);

// Opens the directory and fsyncs it, making the renames inside durable.
Result<void> fsyncDirectory(const std::filesystem::path& path);

}  // namespace popbridge::proxy::archive
