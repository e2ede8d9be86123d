#include "proxy/server/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proxy/server/log.h"

namespace popbridge::proxy {
namespace {

constexpr const char* kLog = "control";

// Whether a process accepts connections on the Unix socket at `path` (a blocking connect to a
// local socket answers at once: accepted, or refused when nobody listens).
bool socketAnswers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), std::min(path.size(), sizeof address.sun_path - 1));
  const bool answers =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return answers;
}

}  // namespace

struct ControlServer::Connection {
  std::uint64_t id = 0;
  ControlServer* server = nullptr;
  UvHandle<uv_pipe_t> pipe;
  control::LineBuffer lines;
  std::deque<std::string> queue;
  bool write_in_flight = false;
  bool finishing = false;  // close once the queue is written
  bool closed = false;
  bool answered = false;  // the one request was read
  char buffer[4096];
};

struct WriteRequest {
  uv_write_t request{};
  std::string bytes;
};

ControlServer::ControlServer(uv_loop_t* loop, std::filesystem::path path, OnRequest on_request,
                             OnClosed on_closed)
    : loop_(loop),
      path_(std::move(path)),
      on_request_(std::move(on_request)),
      on_closed_(std::move(on_closed)),
      reaper_(std::make_unique<Timer>(loop)) {}

ControlServer::~ControlServer() { stop(); }

Result<void, std::string> ControlServer::start() {
  const std::string path = path_.string();
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return fail("control socket " + path + " exists and is not a socket; remove it or set " +
                  "control_socket to another path");
    }
    if (socketAnswers(path)) {
      return fail("control socket " + path +
                  " answers: another popbridge runs with this data directory");
    }
    // Left by a daemon that did not exit cleanly.
    log(LogSeverity::Info, kLog, "replacing the stale control socket ", path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail("cannot remove the stale control socket " + path + ": " + std::strerror(errno));
    }
  }
  listener_ = std::make_unique<UvHandle<uv_pipe_t>>();
  if (const int rc = listener_->init([this](uv_pipe_t* h) { return uv_pipe_init(loop_, h, 0); });
      rc != 0) {
    return fail("control socket: " + std::string(uv_strerror(rc)));
  }
  listener_->get()->data = this;
  // Only the daemon's user may connect: the socket is created 0600 (no window with a wider
  // mode), and chmod makes sure of it. No other thread runs yet, so the umask change is safe.
  const mode_t old_mask = ::umask(0077);
  const int bound = uv_pipe_bind(listener_->get(), path.c_str());
  ::umask(old_mask);
  if (bound != 0) {
    return fail("cannot bind the control socket " + path + ": " + uv_strerror(bound));
  }
  bound_ = true;
  if (::chmod(path.c_str(), 0600) != 0) {
    return fail("cannot chmod the control socket " + path + ": " + std::strerror(errno));
  }
  if (const int rc = uv_listen(listener_->stream(), 8, &ControlServer::onConnection); rc != 0) {
    return fail("cannot listen on the control socket " + path + ": " + uv_strerror(rc));
  }
  log(LogSeverity::Info, kLog, "listening on ", path);
  return {};
}

void ControlServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listener_) listener_->close();
  for (auto& [id, connection] : connections_) {
    if (!connection->closed) {
      connection->closed = true;
      connection->pipe.close();
    }
  }
  connections_.clear();
  doomed_.clear();
  reaper_.reset();
  if (bound_) {
    // Only the file this daemon bound; a later daemon's socket under the same name is not ours
    // to remove, but it cannot exist while we hold the path.
    ::unlink(path_.c_str());
    bound_ = false;
  }
}

void ControlServer::onConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<ControlServer*>(server->data);
  if (self == nullptr) return;
  if (status != 0) {
    log(LogSeverity::Warn, kLog, "accept failed: ", uv_strerror(status));
    return;
  }
  self->accept();
}

void ControlServer::accept() {
  auto connection = std::make_unique<Connection>();
  connection->id = next_id_++;
  connection->server = this;
  if (const int rc =
          connection->pipe.init([this](uv_pipe_t* h) { return uv_pipe_init(loop_, h, 0); });
      rc != 0) {
    return;
  }
  if (const int rc = uv_accept(listener_->stream(), connection->pipe.stream()); rc != 0) {
    log(LogSeverity::Warn, kLog, "accept failed: ", uv_strerror(rc));
    return;
  }
  connection->pipe.get()->data = connection.get();
  uv_read_start(connection->pipe.stream(), &ControlServer::onAlloc, &ControlServer::onRead);
  connections_.emplace(connection->id, std::move(connection));
}

void ControlServer::onAlloc(uv_handle_t* handle, std::size_t /*suggested*/,
                            uv_buf_t* buf) noexcept {
  auto* connection = static_cast<Connection*>(handle->data);
  if (connection == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(connection->buffer, sizeof connection->buffer);
}

void ControlServer::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* connection = static_cast<Connection*>(stream->data);
  if (connection == nullptr || nread == 0) return;
  ControlServer& self = *connection->server;
  if (nread == UV_EOF && connection->answered) {
    // The client shut down its sending side after its request; it still reads the answer.
    uv_read_stop(stream);
    return;
  }
  if (nread < 0) {
    // The client hung up (or the read failed): nothing more to say to it.
    self.close(*connection);
    return;
  }
  self.onBytes(*connection, std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void ControlServer::onBytes(Connection& connection, std::string_view bytes) {
  if (connection.answered) return;  // one request per connection; more input is ignored
  connection.lines.feed(bytes);
  auto line = connection.lines.next();
  if (!line) {
    send(connection.id, control::Message("done").set("ok", false).set("error", line.error()));
    finish(connection.id);
    connection.answered = true;
    return;
  }
  if (!*line) return;
  connection.answered = true;
  auto request = control::parseRequest(**line);
  if (!request) {
    send(connection.id, control::Message("done").set("ok", false).set("error", request.error()));
    finish(connection.id);
    return;
  }
  log(LogSeverity::Debug, kLog, "#", connection.id, ": ", **line);
  on_request_(connection.id, *request);
}

bool ControlServer::send(std::uint64_t id, const control::Message& message) {
  const auto it = connections_.find(id);
  if (it == connections_.end() || it->second->closed || it->second->finishing) return false;
  it->second->queue.push_back(message.toLine());
  flush(*it->second);
  return true;
}

void ControlServer::finish(std::uint64_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end() || it->second->closed) return;
  it->second->finishing = true;
  if (!it->second->write_in_flight && it->second->queue.empty()) close(*it->second);
}

bool ControlServer::alive(std::uint64_t id) const {
  const auto it = connections_.find(id);
  return it != connections_.end() && !it->second->closed;
}

void ControlServer::flush(Connection& connection) {
  if (connection.closed || connection.write_in_flight || connection.queue.empty()) return;
  auto request = std::make_unique<WriteRequest>();
  while (!connection.queue.empty()) {
    request->bytes += connection.queue.front();
    connection.queue.pop_front();
  }
  request->request.data = request.get();
  uv_buf_t buffer =
      uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  if (const int rc = uv_write(&request->request, connection.pipe.stream(), &buffer, 1,
                              &ControlServer::onWrite);
      rc != 0) {
    close(connection);
    return;
  }
  connection.write_in_flight = true;
  request.release();  // owned by the write until onWrite
}

void ControlServer::onWrite(uv_write_t* request, int status) noexcept {
  std::unique_ptr<WriteRequest> owned(static_cast<WriteRequest*>(request->data));
  auto* connection = static_cast<Connection*>(request->handle->data);
  if (connection == nullptr) return;  // closed meanwhile
  connection->write_in_flight = false;
  ControlServer& self = *connection->server;
  if (status != 0) {
    self.close(*connection);
    return;
  }
  if (!connection->queue.empty()) {
    self.flush(*connection);
  } else if (connection->finishing) {
    self.close(*connection);
  }
}

void ControlServer::close(Connection& connection) {
  if (connection.closed) return;
  connection.closed = true;
  connection.pipe.close();
  const std::uint64_t id = connection.id;
  // Destroyed at the next turn, never inside its own callback (STYLE.md 5.3).
  doomed_.push_back(id);
  if (reaper_ && !reaper_->active()) {
    reaper_->start(std::chrono::milliseconds(0), [this] { reap(); });
  }
  if (on_closed_) on_closed_(id);
}

void ControlServer::reap() {
  std::vector<std::uint64_t> doomed = std::move(doomed_);
  doomed_.clear();
  for (std::uint64_t id : doomed) connections_.erase(id);
}

}  // namespace popbridge::proxy
