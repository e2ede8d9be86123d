#pragma once

#include <memory>
#include <string>

#include "protocols/common/result.h"
#include "proxy/tls/error.h"

// BoringSSL stays behind this header (STYLE.md 1.4): only the type name is visible here.
struct ssl_ctx_st;

namespace popbridge::proxy::tls {

// Whether a client checks the server's certificate chain and name.
// None exists only for explicit configuration (self-signed lab servers); the caller logs it.
enum class Verify { Peer, None };

// Shared TLS configuration: certificates, trust anchors, protocol floor. Immutable once built, so
// one Context may be used by any number of Engines on any thread (BoringSSL's SSL_CTX is
// thread-safe for creating sessions). Held by shared_ptr because every Engine keeps it alive.
class Context {
 public:
  // Server context from a PEM certificate chain file (leaf first) and a PEM private key file.
  // Returns the context, or an Error naming the file and BoringSSL's reason. Any thread.
  static Result<std::shared_ptr<Context>, Error> server(const std::string& cert_file,
                                                        const std::string& key_file);

  // Client context, TLS 1.2 or newer. With Verify::Peer the server chain is checked against
  // `ca_file` (PEM, one or more certificates) when it is non-empty, else against the system
  // trust store in /etc/ssl/certs; the host name is checked per Engine. With Verify::None
  // nothing is checked and `ca_file` is ignored. Returns the context or an Error naming the
  // file. Any thread.
  static Result<std::shared_ptr<Context>, Error> client(Verify verify, const std::string& ca_file);

  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The policy this context was built with (Verify::Peer for server contexts).
  Verify verify() const { return verify_; }

  // The BoringSSL context, borrowed; valid while this Context lives. For proxy/tls/ code only.
  ssl_ctx_st* native() const { return ctx_; }

 private:
  Context(ssl_ctx_st* ctx, Verify verify) : ctx_(ctx), verify_(verify) {}

  ssl_ctx_st* ctx_;
  Verify verify_;
};

}  // namespace popbridge::proxy::tls
