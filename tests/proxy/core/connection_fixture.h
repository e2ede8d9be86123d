#pragma once

// Test support for Connection tests: a loopback listener whose accepted connections and the
// client connections are wrapped in Endpoints that record what they saw.

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/core/connection.h"
#include "proxy/core/tcp_listener.h"
#include "tests/proxy/core/loop_fixture.h"

namespace popbridge::proxy::testing {

struct Endpoint {
  std::unique_ptr<Connection> connection;
  std::string received;
  int close_calls = 0;
  std::optional<NetError> close_error;
  int tls_ready = 0;
  int drains = 0;
  // Extra behaviour, run after the default bookkeeping.
  std::function<void(Endpoint&, std::string_view)> on_data;
  std::function<void(Endpoint&)> on_drain;
  std::function<void(Endpoint&)> on_close;
  std::function<void(Endpoint&)> on_tls_ready;

  void attach(std::unique_ptr<Connection> c) {
    connection = std::move(c);
    Connection::Callbacks callbacks;
    callbacks.on_data = [this](std::string_view bytes) {
      received.append(bytes);
      if (on_data) {
        on_data(*this, bytes);
      }
    };
    callbacks.on_drain = [this] {
      ++drains;
      if (on_drain) {
        on_drain(*this);
      }
    };
    callbacks.on_close = [this](std::optional<NetError> error) {
      ++close_calls;
      close_error = std::move(error);
      if (on_close) {
        on_close(*this);
      }
    };
    callbacks.on_tls_ready = [this] {
      ++tls_ready;
      if (on_tls_ready) {
        on_tls_ready(*this);
      }
    };
    connection->setCallbacks(std::move(callbacks));
    connection->startReading();
  }
};

// Connection::connect with the outcome kept in shared state, so that a test which gives up early
// leaves nothing on its stack for the late callback to write to.
using ConnectOutcome = std::optional<Result<std::unique_ptr<Connection>, NetError>>;

inline std::shared_ptr<ConnectOutcome> startConnect(uv_loop_t* loop, std::string host,
                                                    std::uint16_t port,
                                                    std::chrono::milliseconds timeout) {
  auto outcome = std::make_shared<ConnectOutcome>();
  Connection::connect(loop, std::move(host), port, timeout,
                      [outcome](Result<std::unique_ptr<Connection>, NetError> result) {
                        outcome->emplace(std::move(result));
                      });
  return outcome;
}

class ConnectionTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    auto listener = TcpListener::listen(loop(), "127.0.0.1:0", [this](uv_stream_t* server) {
      auto accepted = Connection::accept(loop(), server);
      ASSERT_TRUE(accepted) << accepted.error().message;
      Endpoint& endpoint = servers_.emplace_back();
      if (on_accept_) {
        on_accept_(endpoint);
      }
      endpoint.attach(std::move(*accepted));
      if (after_accept_) {
        after_accept_(endpoint);
      }
    });
    ASSERT_TRUE(listener) << listener.error().message;
    listener_ = std::move(*listener);
  }

  void TearDown() override {
    listener_.reset();
    client_.connection.reset();
    servers_.clear();
    LoopTest::TearDown();
  }

  // Connects client_ to the listener; returns false on failure or timeout.
  bool connectClient() {
    auto outcome = startConnect(loop(), "127.0.0.1", listener_->port(), std::chrono::seconds(5));
    if (!runUntil([&] { return outcome->has_value() && !servers_.empty(); })) {
      return false;
    }
    if (!**outcome) {
      ADD_FAILURE() << (*outcome)->error().message;
      return false;
    }
    client_.attach(std::move(***outcome));
    return true;
  }

  Endpoint& server() { return servers_.front(); }

  std::unique_ptr<TcpListener> listener_;
  std::deque<Endpoint> servers_;
  Endpoint client_;
  // Run before / after an accepted connection is attached (set callbacks, start TLS, ...).
  std::function<void(Endpoint&)> on_accept_;
  std::function<void(Endpoint&)> after_accept_;
};

// Deterministic test bytes: byte i of the stream.
inline char patternByte(std::size_t i) { return static_cast<char>((i * 7u + (i >> 13)) & 0xffu); }

inline std::string patternChunk(std::size_t offset, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t k = 0; k < size; ++k) {
    out[k] = patternByte(offset + k);
  }
  return out;
}

}  // namespace popbridge::proxy::testing
