#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "proxy/tls/context.h"
#include "proxy/tls/error.h"
#include "proxy/tls/role.h"

struct ssl_st;
struct bio_st;

namespace popbridge::proxy::tls {

// One TLS session over a pair of memory BIOs (STYLE.md 5.6). The engine never does I/O and never
// calls back: the owner feeds it ciphertext from the network, takes plaintext out, puts plaintext
// in and takes ciphertext to send. Not thread-safe: one thread at a time (the loop thread).
//
// Typical turn: feedCiphertext(read bytes); readPlaintext(out); takeCiphertext(to_send).
// A client starts the handshake with readPlaintext() before any input (it produces ClientHello).
class Engine {
 public:
  enum class State {
    Handshaking,  // handshake under way; writes are queued until it completes
    Open,         // handshake done; application data flows both ways
    Closed,       // the peer sent close_notify: no more data will arrive
    Failed,       // fatal error; failure() says why. Alerts may still wait in takeCiphertext()
  };

  // Client role: sends `server_name` as SNI (unless it is an IP literal, RFC 6066 section 3) and,
  // under Verify::Peer, requires the certificate to match it (DNS name or IP address). An empty
  // `server_name` under Verify::Peer leaves the engine Failed, since there is nothing to check.
  // Server role ignores `server_name`. Construction failures also show as State::Failed.
  Engine(std::shared_ptr<Context> context, TlsRole role, std::string server_name);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Buffers ciphertext received from the network; nothing is decrypted until readPlaintext().
  void feedCiphertext(std::string_view bytes);

  // Advances the handshake and appends all application data decryptable from the fed ciphertext
  // to `out`. Returns an Error (and the engine is Failed) on a handshake, verification or record
  // failure; returns success with nothing appended when more input is needed or after Closed.
  Result<void, Error> readPlaintext(std::string& out);

  // Encrypts `bytes` (copied). During the handshake they are held and sent once it completes.
  // Returns an Error when Failed or after shutdown().
  Result<void, Error> writePlaintext(std::string_view bytes);

  // Appends every ciphertext byte the engine wants sent (handshake records, application data,
  // alerts, close_notify) to `out`.
  void takeCiphertext(std::string& out);

  // Queues close_notify (RFC 8446 section 6.1); later writes fail. Send it with takeCiphertext().
  void shutdown();

  State state() const { return state_; }

  // Why the engine Failed, e.g. "certificate verify failed: self signed certificate".
  // Empty unless state() == State::Failed.
  std::string failure() const { return failure_; }

  // Plaintext accepted by writePlaintext() but held until the handshake completes.
  std::size_t pendingPlaintext() const { return held_plaintext_.size(); }

 private:
  bool refill();
  Result<void, Error> failWith(std::string reason);
  Result<void, Error> flushHeldPlaintext();
  Result<void, Error> encrypt(std::string_view bytes);

  std::shared_ptr<Context> context_;
  ssl_st* ssl_ = nullptr;
  bio_st* network_in_ = nullptr;   // borrowed from ssl_: ciphertext we feed to BoringSSL
  bio_st* network_out_ = nullptr;  // borrowed from ssl_: ciphertext BoringSSL produced
  TlsRole role_;
  State state_ = State::Handshaking;
  bool shutdown_sent_ = false;
  std::string failure_;
  std::string input_;  // fed ciphertext not yet moved into network_in_
  std::size_t input_offset_ = 0;
  std::string held_plaintext_;
};

}  // namespace popbridge::proxy::tls
