#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "proxy/core/timer.h"
#include "proxy/core/uv_handle.h"
#include "proxy/server/control_protocol.h"

namespace popbridge::proxy {

// The daemon's control socket: a Unix socket (mode 0600) where `popbridge status|sync` send one
// request line each and read the answer (control_protocol.h). The server parses requests and
// carries lines; what a request does is the daemon's business, through `on_request`, which
// answers by connection id with send() and finish() (STYLE.md 5.4: the client may be gone by
// then; those calls are then no-ops). Loop thread only.
class ControlServer {
 public:
  // A parsed request on connection `id`; runs on the loop thread.
  using OnRequest = std::function<void(std::uint64_t id, const control::Request& request)>;
  // Connection `id` closed (the client went away, or after finish()).
  using OnClosed = std::function<void(std::uint64_t id)>;

  ControlServer(uv_loop_t* loop, std::filesystem::path path, OnRequest on_request,
                OnClosed on_closed);
  // Closes everything and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds the socket with mode 0600 and listens. A socket file nobody answers on (left by a
  // crashed daemon) is replaced; one that answers means another daemon runs: an error, as is a
  // path that exists and is not a socket. Call before any worker thread runs (it narrows the
  // umask around bind). Never calls back before returning.
  Result<void, std::string> start();
  // Stops listening, closes every connection and removes the socket file. Idempotent.
  void stop();

  // Queues one reply line on connection `id`. Returns false if it is gone.
  bool send(std::uint64_t id, const control::Message& message);
  // Closes connection `id` once its queued lines are written.
  void finish(std::uint64_t id);
  bool alive(std::uint64_t id) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  struct Connection;
  static void onConnection(uv_stream_t* server, int status) noexcept;
  static void onAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* request, int status) noexcept;
  void accept();
  void onBytes(Connection& connection, std::string_view bytes);
  void flush(Connection& connection);
  void close(Connection& connection);
  void reap();

  uv_loop_t* loop_;
  std::filesystem::path path_;
  OnRequest on_request_;
  OnClosed on_closed_;
  std::unique_ptr<UvHandle<uv_pipe_t>> listener_;
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::uint64_t> doomed_;
  std::unique_ptr<Timer> reaper_;
  std::uint64_t next_id_ = 1;
  bool bound_ = false;
  bool stopped_ = false;
};

}  // namespace popbridge::proxy
