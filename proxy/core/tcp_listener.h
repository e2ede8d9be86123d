#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "proxy/core/error.h"
#include "proxy/core/uv_handle.h"

namespace popbridge::proxy {

// A listening TCP socket. Loop thread only.
class TcpListener {
 public:
  // Binds `address` ("0.0.0.0:143", "127.0.0.1:0", "[::1]:993"; port 0 picks a free port) and
  // listens. `on_connection(server)` runs on the loop thread for each pending connection and
  // should call Connection::accept(loop, server) — a connection left unaccepted stalls the
  // listener. Returns the listener, or a NetError naming the address ("address already in use").
  // Never calls back before returning.
  static Result<std::unique_ptr<TcpListener>, NetError> listen(
      uv_loop_t* loop, std::string_view address,
      std::function<void(uv_stream_t* server)> on_connection);

  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // The bound port (the chosen one when listening on port 0).
  std::uint16_t port() const { return port_; }
  // The bound address, "127.0.0.1:40123".
  const std::string& address() const { return address_; }

  // Stops listening and closes the socket; idempotent. No on_connection runs after this.
  void close();

 private:
  explicit TcpListener(std::function<void(uv_stream_t*)> on_connection)
      : on_connection_(std::move(on_connection)) {}
  static void onConnection(uv_stream_t* server, int status) noexcept;

  UvHandle<uv_tcp_t> tcp_;
  std::function<void(uv_stream_t*)> on_connection_;
  std::uint16_t port_ = 0;
  std::string address_;
};

}  // namespace popbridge::proxy
