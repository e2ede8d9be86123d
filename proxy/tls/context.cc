#include "proxy/tls/context.h"

// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/ssl.h>
#pragma GCC diagnostic pop
#include <sys/stat.h>

#include "proxy/tls/ssl_errors.h"

namespace popbridge::proxy::tls {
namespace {

// Debian's trust store (ca-certificates). Loaded explicitly because BoringSSL's built-in default
// paths depend on how the library was configured.
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";
constexpr const char* kSystemCaDir = "/etc/ssl/certs";

bool exists(const char* path) {
  struct stat info {};
  return ::stat(path, &info) == 0;
}

Result<bssl::UniquePtr<SSL_CTX>, Error> newContext() {
  ERR_clear_error();
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) {
    return fail(Error{"cannot create TLS context: " + takeErrorQueue()});
  }
  // TLS 1.0 and 1.1 are deprecated (RFC 8996); popbridge speaks 1.2 and 1.3 only.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return fail(Error{"cannot set TLS 1.2 minimum: " + takeErrorQueue()});
  }
  // Memory BIOs grow as needed, but the write buffer may move between SSL_write retries.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

}  // namespace

Context::~Context() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<Context>, Error> Context::server(const std::string& cert_file,
                                                        const std::string& key_file) {
  auto ctx = newContext();
  if (!ctx) {
    return fail(ctx.error());
  }
  SSL_CTX* raw = ctx->get();
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1) {
    return fail(Error{"certificate file " + cert_file + ": " + takeErrorQueue()});
  }
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string reasons = takeErrorQueue();
    // BoringSSL compares the key with the certificate while loading it.
    if (reasons.find("KEY_VALUES_MISMATCH") != std::string::npos) {
      return fail(
          Error{"private key file " + key_file + " does not match certificate " + cert_file});
    }
    return fail(Error{"private key file " + key_file + ": " + reasons});
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    return fail(Error{"private key file " + key_file + " does not match certificate " + cert_file +
                      ": " + takeErrorQueue()});
  }
  return std::shared_ptr<Context>(new Context(ctx->release(), Verify::Peer));
}

Result<std::shared_ptr<Context>, Error> Context::client(Verify verify, const std::string& ca_file) {
  auto ctx = newContext();
  if (!ctx) {
    return fail(ctx.error());
  }
  SSL_CTX* raw = ctx->get();
  if (verify == Verify::Peer) {
    if (!ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(raw, ca_file.c_str(), nullptr) != 1) {
        return fail(Error{"CA file " + ca_file + ": " + takeErrorQueue()});
      }
    } else {
      const char* bundle = exists(kSystemCaBundle) ? kSystemCaBundle : nullptr;
      const char* dir = exists(kSystemCaDir) ? kSystemCaDir : nullptr;
      if ((bundle == nullptr && dir == nullptr) ||
          SSL_CTX_load_verify_locations(raw, bundle, dir) != 1) {
        return fail(
            Error{std::string("system trust store ") + kSystemCaBundle + ": " + takeErrorQueue()});
      }
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<Context>(new Context(ctx->release(), verify));
}

}  // namespace popbridge::proxy::tls
