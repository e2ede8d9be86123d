#include "proxy/server/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace popbridge::proxy {

Result<ControlClient, ControlClientError> ControlClient::connect(
    const std::filesystem::path& path) {
  const std::string text = path.string();
  sockaddr_un address{};
  if (text.size() >= sizeof address.sun_path) {
    return fail(ControlClientError{ControlConnectError::Failed, text + ": path too long"});
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(ControlClientError{ControlConnectError::Failed,
                                   std::string("socket: ") + std::strerror(errno)});
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd);
    const ControlConnectError kind = (error == ENOENT || error == ECONNREFUSED)
                                         ? ControlConnectError::NotRunning
                                         : ControlConnectError::Failed;
    return fail(ControlClientError{kind, text + ": " + std::strerror(error)});
  }
  return ControlClient(fd);
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

ControlClient::ControlClient(ControlClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), lines_(std::move(other.lines_)) {}

Result<void, std::string> ControlClient::send(const control::Request& request) {
  const std::string line = control::formatRequest(request);
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("cannot write to the control socket: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  return {};
}

Result<control::Message, std::string> ControlClient::next(
    std::optional<std::chrono::milliseconds> timeout) {
  const auto deadline =
      timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  while (true) {
    auto line = lines_.next();
    if (!line) return fail(line.error());
    if (*line) {
      auto message = control::Message::parse(**line);
      if (!message) return fail("the daemon sent a bad line: " + message.error());
      return std::move(*message);
    }
    int wait = -1;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(std::string("the daemon did not answer in time"));
      wait = static_cast<int>(left.count());
    }
    pollfd ready{fd_, POLLIN, 0};
    const int polled = ::poll(&ready, 1, wait);
    if (polled < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("poll: ") + std::strerror(errno));
    }
    if (polled == 0) return fail(std::string("the daemon did not answer in time"));
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("cannot read the control socket: ") + std::strerror(errno));
    }
    if (n == 0) return fail(std::string("the daemon closed the connection before it was done"));
    lines_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

}  // namespace popbridge::proxy
