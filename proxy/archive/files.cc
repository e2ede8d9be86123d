#include "proxy/archive/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace popbridge::proxy::archive {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

ArchiveError fileError(std::string_view what, const std::filesystem::path& path, int errnum) {
  return ArchiveError{std::string(what) + " " + path.string() + ": " + std::strerror(errnum)};
}

Result<InputFile> openInput(const std::filesystem::path& path) {
  InputFile file;
  file.fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd.get() < 0) return fail(fileError("open", path, errno));
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) return fail(fileError("stat", path, errno));
  file.size = static_cast<std::uint64_t>(st.st_size);
  file.mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec);
  return file;
}

Result<std::size_t> readSome(const Fd& fd, std::span<char> out, const std::filesystem::path& path) {
  while (true) {
    const ssize_t n = ::read(fd.get(), out.data(), out.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail(fileError("read", path, errno));
  }
}

Result<void> writeAll(const Fd& fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(fileError("write", path, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> makeDirectory(const std::filesystem::path& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(fileError("mkdir", path, errno));
  }
  return {};
}

Result<void> fsyncDirectory(const std::filesystem::path& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return fail(fileError("open", path, errno));
  while (::fsync(fd.get()) != 0) {
    if (errno != EINTR) return fail(fileError("fsync", path, errno));
  }
  return {};
}

}  // namespace popbridge::proxy::archive
