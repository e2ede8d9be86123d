#include "store/file_ops.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace popbridge::store {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

Result<void> UniqueFd::close(const std::filesystem::path& path_for_errors) {
  if (fd_ < 0) return {};
  const int fd = release();
  // close() is not retried on EINTR: on Linux the descriptor is gone either way.
  if (::close(fd) != 0) return fail(ioError("close", path_for_errors, errno));
  return {};
}

Error ioError(std::string_view what, const std::filesystem::path& path, int errnum) {
  std::string message(what);
  message += ' ';
  message += path.string();
  message += ": ";
  message += std::strerror(errnum);
  return Error{ErrorCode::Io, std::move(message)};
}

Result<void> makeDirectory(const std::filesystem::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(ioError("mkdir", path, errno));
  }
  return {};
}

Result<void> fsyncDirectory(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail(ioError("open directory", path, errno));
  if (auto synced = fsyncFd(fd.get(), path); !synced) return synced;
  return fd.close(path);
}

Result<void> writeAll(int fd, std::string_view data, const std::filesystem::path& path_for_errors) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail(ioError("write", path_for_errors, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

Result<void> syncFilesystem(int fd, const std::filesystem::path& path_for_errors) {
  if (::syncfs(fd) != 0) return fail(ioError("syncfs", path_for_errors, errno));
  return {};
}

Result<void> fsyncFd(int fd, const std::filesystem::path& path_for_errors) {
  while (::fsync(fd) != 0) {
    // A failed fsync must not be retried as if nothing happened (the kernel may have dropped the
    // dirty pages); only EINTR, where nothing was attempted, is retried.
    if (errno != EINTR) return fail(ioError("fsync", path_for_errors, errno));
  }
  return {};
}

Result<std::string> randomHex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  std::size_t filled = 0;
  while (filled < bytes) {
    const ssize_t got = ::getrandom(raw.data() + filled, bytes - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(ioError("getrandom", "", errno));
    }
    filled += static_cast<std::size_t>(got);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char byte : raw) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

}  // namespace popbridge::store
