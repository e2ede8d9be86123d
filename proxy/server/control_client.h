#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "protocols/common/result.h"
#include "proxy/server/control_protocol.h"

namespace popbridge::proxy {

// Why connecting to the control socket failed.
enum class ControlConnectError {
  NotRunning,  // no socket file, or nobody listens on it
  Failed,      // anything else (permissions, a path that is not a socket, ...)
};

struct ControlClientError {
  ControlConnectError kind = ControlConnectError::Failed;
  std::string message;
};

// The CLI's side of the control socket: blocking, one request per connection. Not for the
// daemon's loop thread.
class ControlClient {
 public:
  static Result<ControlClient, ControlClientError> connect(const std::filesystem::path& path);
  ~ControlClient();
  ControlClient(ControlClient&& other) noexcept;
  ControlClient& operator=(ControlClient&& other) = delete;
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  Result<void, std::string> send(const control::Request& request);
  // The next reply line, waiting at most `timeout` (forever when nullopt). An error when the
  // daemon closes the connection, the line is not a protocol message, or time runs out.
  Result<control::Message, std::string> next(std::optional<std::chrono::milliseconds> timeout);

 private:
  explicit ControlClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  control::LineBuffer lines_;
};

}  // namespace popbridge::proxy
