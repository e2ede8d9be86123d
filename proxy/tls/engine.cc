#include "proxy/tls/engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <climits>
#include <utility>

#include "proxy/tls/ssl_errors.h"

namespace popbridge::proxy::tls {
namespace {

// How much ciphertext sits in the input BIO at once. BoringSSL's memory BIO shifts its remaining
// bytes down on every read, so feeding megabytes at once would make decryption quadratic; the
// rest waits in Engine::input_ and is moved over as the BIO empties.
constexpr std::size_t kBioChunk = 64 * 1024;
// Largest plaintext piece handed to one SSL_write / SSL_read (both take int lengths).
constexpr std::size_t kRecordBatch = 1024 * 1024;
constexpr std::size_t kReadStep = 16 * 1024;

bool isIpLiteral(const std::string& name) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

}  // namespace

Engine::Engine(std::shared_ptr<Context> context, TlsRole role, std::string server_name)
    : context_(std::move(context)), role_(role) {
  ERR_clear_error();
  if (!context_) {
    state_ = State::Failed;
    failure_ = "no TLS context";
    return;
  }
  ssl_ = SSL_new(context_->native());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    state_ = State::Failed;
    failure_ = "cannot create TLS session: " + takeErrorQueue();
    return;
  }
  // An empty input BIO means "no more yet" (retry), never end of stream.
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl_, in, out);  // ssl_ owns both from here
  network_in_ = in;
  network_out_ = out;

  if (role_ == TlsRole::Server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const bool ip_literal = isIpLiteral(server_name);
  // SNI carries host names only, never address literals (RFC 6066 section 3).
  if (!server_name.empty() && !ip_literal &&
      SSL_set_tlsext_host_name(ssl_, server_name.c_str()) != 1) {
    state_ = State::Failed;
    failure_ = "cannot set server name " + server_name + ": " + takeErrorQueue();
    return;
  }
  if (context_->verify() == Verify::Peer) {
    if (server_name.empty()) {
      state_ = State::Failed;
      failure_ = "certificate verification needs a server name";
      return;
    }
    // RFC 6125: the reference identity is the name we were configured to connect to.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    const int ok = ip_literal
                       ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, server_name.data(), server_name.size());
    if (ok != 1) {
      state_ = State::Failed;
      failure_ = "cannot check server name " + server_name + ": " + takeErrorQueue();
    }
  }
}

Engine::~Engine() { SSL_free(ssl_); }

void Engine::feedCiphertext(std::string_view bytes) {
  if (input_offset_ == input_.size()) {
    input_.clear();
    input_offset_ = 0;
  } else if (input_offset_ > input_.size() / 2) {
    input_.erase(0, input_offset_);
    input_offset_ = 0;
  }
  input_.append(bytes);
}

bool Engine::refill() {
  if (input_offset_ == input_.size() || BIO_pending(network_in_) != 0) {
    return false;
  }
  const std::size_t n = std::min(kBioChunk, input_.size() - input_offset_);
  const int written = BIO_write(network_in_, input_.data() + input_offset_, static_cast<int>(n));
  if (written <= 0) {
    ERR_clear_error();
    return false;
  }
  input_offset_ += static_cast<std::size_t>(written);
  return true;
}

Result<void, Error> Engine::failWith(std::string reason) {
  state_ = State::Failed;
  failure_ = std::move(reason);
  return fail(Error{failure_});
}

Result<void, Error> Engine::readPlaintext(std::string& out) {
  if (state_ == State::Failed) {
    return fail(Error{failure_});
  }
  while (state_ != State::Closed) {
    refill();
    ERR_clear_error();
    int result = 0;
    if (state_ == State::Handshaking) {
      result = SSL_do_handshake(ssl_);
      if (result == 1) {
        state_ = State::Open;
        if (auto flushed = flushHeldPlaintext(); !flushed) {
          return flushed;
        }
        continue;
      }
    } else {
      const std::size_t old_size = out.size();
      out.resize(old_size + kReadStep);
      result = SSL_read(ssl_, out.data() + old_size, static_cast<int>(kReadStep));
      out.resize(old_size + static_cast<std::size_t>(std::max(result, 0)));
      if (result > 0) {
        continue;
      }
    }
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        // Everything in the BIO was consumed; go on only if more input is waiting.
        if (input_offset_ == input_.size()) {
          return {};
        }
        continue;
      case SSL_ERROR_ZERO_RETURN:
        // close_notify from the peer (RFC 8446 section 6.1): the end of its data.
        state_ = State::Closed;
        return {};
      default: {
        std::string reasons = takeErrorQueue();
        if (state_ == State::Handshaking && role_ == TlsRole::Client &&
            context_->verify() == Verify::Peer) {
          const long verify_result = SSL_get_verify_result(ssl_);
          if (verify_result != X509_V_OK) {
            return failWith(std::string("certificate verify failed: ") +
                            X509_verify_cert_error_string(verify_result));
          }
        }
        return failWith((state_ == State::Handshaking ? "handshake failed: " : "TLS error: ") +
                        reasons);
      }
    }
  }
  return {};
}

Result<void, Error> Engine::encrypt(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), kRecordBatch);
    ERR_clear_error();
    const int written = SSL_write(ssl_, bytes.data(), static_cast<int>(n));
    if (written <= 0) {
      return failWith("TLS write failed: " + takeErrorQueue());
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

Result<void, Error> Engine::flushHeldPlaintext() {
  if (held_plaintext_.empty()) {
    return {};
  }
  std::string held = std::exchange(held_plaintext_, std::string());
  return encrypt(held);
}

Result<void, Error> Engine::writePlaintext(std::string_view bytes) {
  if (state_ == State::Failed) {
    return fail(Error{failure_});
  }
  if (shutdown_sent_) {
    return fail(Error{"TLS session already shut down"});
  }
  if (state_ == State::Handshaking) {
    held_plaintext_.append(bytes);
    return {};
  }
  return encrypt(bytes);
}

void Engine::takeCiphertext(std::string& out) {
  if (network_out_ == nullptr) {
    return;
  }
  const std::size_t pending = BIO_pending(network_out_);
  if (pending == 0) {
    return;
  }
  const std::size_t old_size = out.size();
  out.resize(old_size + pending);
  const int got = BIO_read(network_out_, out.data() + old_size, static_cast<int>(pending));
  out.resize(old_size + static_cast<std::size_t>(std::max(got, 0)));
  ERR_clear_error();
}

void Engine::shutdown() {
  if (shutdown_sent_ || ssl_ == nullptr || state_ == State::Failed) {
    return;
  }
  shutdown_sent_ = true;
  if (state_ == State::Handshaking) {
    // Nothing was said yet that a close_notify would end; the owner just drops the stream.
    held_plaintext_.clear();
    return;
  }
  ERR_clear_error();
  // Returns 0 (sent, peer's not yet seen) or 1; a failure only means the alert was not queued.
  if (SSL_shutdown(ssl_) < 0) {
    ERR_clear_error();
  }
}

}  // namespace popbridge::proxy::tls
