#include "proxy/core/tcp_listener.h"

#include <utility>

#include "proxy/core/socket_address.h"

namespace popbridge::proxy {
namespace {

// Pending connections the kernel queues for us; SOMAXCONN caps it anyway.
constexpr int kBacklog = 511;

}  // namespace

Result<std::unique_ptr<TcpListener>, NetError> TcpListener::listen(
    uv_loop_t* loop, std::string_view address,
    std::function<void(uv_stream_t* server)> on_connection) {
  auto parsed = parseListenAddress(address);
  if (!parsed) {
    return fail(parsed.error());
  }
  std::unique_ptr<TcpListener> listener(new TcpListener(std::move(on_connection)));
  const auto failed = [&](const char* what, int rc) {
    return fail(NetError{std::string(what) + " " + std::string(address) + ": " + uv_strerror(rc)});
  };
  if (int rc = listener->tcp_.init([loop](uv_tcp_t* h) { return uv_tcp_init(loop, h); }); rc != 0) {
    return failed("listen on", rc);
  }
  listener->tcp_.get()->data = listener.get();
  const auto* addr = reinterpret_cast<const sockaddr*>(&*parsed);
  // libuv sets SO_REUSEADDR on bind, so a restarted daemon rebinds despite TIME_WAIT peers.
  if (int rc = uv_tcp_bind(listener->tcp_.get(), addr, 0); rc != 0) {
    return failed("bind", rc);
  }
  if (int rc = uv_listen(listener->tcp_.stream(), kBacklog, &TcpListener::onConnection); rc != 0) {
    return failed("listen on", rc);
  }
  sockaddr_storage bound{};
  int length = sizeof bound;
  if (int rc =
          uv_tcp_getsockname(listener->tcp_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
      rc != 0) {
    return failed("getsockname for", rc);
  }
  listener->address_ = formatAddress(reinterpret_cast<const sockaddr*>(&bound));
  const auto* as_v4 = reinterpret_cast<const sockaddr_in*>(&bound);
  const auto* as_v6 = reinterpret_cast<const sockaddr_in6*>(&bound);
  listener->port_ = ntohs(bound.ss_family == AF_INET6 ? as_v6->sin6_port : as_v4->sin_port);
  return listener;
}

TcpListener::~TcpListener() { close(); }

void TcpListener::close() { tcp_.close(); }

void TcpListener::onConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<TcpListener*>(server->data);
  // A failed accept (EMFILE, ECONNABORTED) leaves nothing to hand over; libuv retries later.
  if (self == nullptr || status != 0 || !self->on_connection_) {
    return;
  }
  self->on_connection_(server);
}

}  // namespace popbridge::proxy
