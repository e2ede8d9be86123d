#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "proxy/core/connection.h"
#include "proxy/tls/context.h"
#include "tests/proxy/core/connection_fixture.h"
#include "tests/proxy/tls/test_credentials.h"

namespace popbridge::proxy {
namespace {

using testing::Endpoint;
using ::testing::HasSubstr;
using testing::patternChunk;

class ConnectionTlsTest : public testing::ConnectionTest {
 protected:
  void SetUp() override {
    testing::ConnectionTest::SetUp();
    auto server_ctx = tls::Context::server(creds_.cert_file, creds_.key_file);
    ASSERT_TRUE(server_ctx) << server_ctx.error().message;
    server_ctx_ = *server_ctx;
    auto client_ctx = tls::Context::client(tls::Verify::Peer, creds_.cert_file);
    ASSERT_TRUE(client_ctx) << client_ctx.error().message;
    client_ctx_ = *client_ctx;
  }

  void echoOnServer() {
    on_accept_ = [](Endpoint& e) {
      e.on_data = [](Endpoint& self, std::string_view bytes) {
        self.connection->write(std::string(bytes));
      };
    };
  }

  tls::testing::Credentials creds_;
  std::shared_ptr<tls::Context> server_ctx_;
  std::shared_ptr<tls::Context> client_ctx_;
};

TEST_F(ConnectionTlsTest, ImplicitTlsFromTheStart) {
  echoOnServer();
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(client_ctx_, TlsRole::Client, "localhost");
  EXPECT_TRUE(client_.connection->tlsActive());
  client_.connection->write("a1 CAPABILITY\r\n");  // held until the handshake completes
  EXPECT_GT(client_.connection->pendingOutput(), 0u);
  ASSERT_TRUE(runUntil([&] { return client_.received == "a1 CAPABILITY\r\n"; }));
  EXPECT_EQ(client_.tls_ready, 1);
  EXPECT_EQ(server().tls_ready, 1);
  EXPECT_TRUE(server().connection->tlsActive());
  EXPECT_EQ(server().received, "a1 CAPABILITY\r\n");
}

TEST_F(ConnectionTlsTest, StartTlsUpgradeMidStream) {
  // RFC 3501 section 6.2.1 / RFC 2595 section 4: a plaintext command, a plaintext OK, then the
  // handshake on the same stream; the OK must go out before the server switches.
  on_accept_ = [this](Endpoint& e) {
    e.on_data = [this](Endpoint& self, std::string_view bytes) {
      if (!self.connection->tlsActive()) {
        EXPECT_EQ(bytes, "a1 STARTTLS\r\n");
        self.connection->write("a1 OK Begin TLS negotiation now\r\n");
        self.connection->startTls(server_ctx_, TlsRole::Server, "");
        return;
      }
      self.connection->write("* echo " + std::string(bytes));
    };
  };
  ASSERT_TRUE(connectClient());
  client_.on_data = [this](Endpoint& self, std::string_view) {
    if (!self.connection->tlsActive() && self.received == "a1 OK Begin TLS negotiation now\r\n") {
      self.received.clear();
      self.connection->startTls(client_ctx_, TlsRole::Client, "127.0.0.1");
    }
  };
  client_.on_tls_ready = [](Endpoint& self) { self.connection->write("a2 LOGIN secret\r\n"); };
  client_.connection->write("a1 STARTTLS\r\n");
  ASSERT_TRUE(runUntil([&] { return client_.received == "* echo a2 LOGIN secret\r\n"; }));
  EXPECT_EQ(client_.tls_ready, 1);
  EXPECT_EQ(server().tls_ready, 1);
  EXPECT_EQ(client_.close_calls, 0);
  EXPECT_EQ(server().close_calls, 0);
}

TEST_F(ConnectionTlsTest, UntrustedServerClosesWithReason) {
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  auto system_trust = tls::Context::client(tls::Verify::Peer, "");
  ASSERT_TRUE(system_trust);
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(*system_trust, TlsRole::Client, "localhost");
  client_.connection->write("USER alice\r\n");
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1 && server().close_calls == 1; }));
  ASSERT_TRUE(client_.close_error.has_value());
  EXPECT_THAT(client_.close_error->message, HasSubstr("certificate verify failed: "));
  EXPECT_THAT(client_.close_error->message, HasSubstr("self signed"));
  // The server learns of the rejection (alert) rather than waiting for a timeout.
  ASSERT_TRUE(server().close_error.has_value());
  EXPECT_THAT(server().close_error->message, HasSubstr("TLS with 127.0.0.1:"));
  EXPECT_TRUE(server().received.empty());  // nothing leaked in clear
}

TEST_F(ConnectionTlsTest, HostnameMismatchClosesWithReason) {
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(client_ctx_, TlsRole::Client, "pop.example.net");
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1; }));
  ASSERT_TRUE(client_.close_error.has_value());
  EXPECT_THAT(client_.close_error->message, HasSubstr("certificate verify failed"));
  EXPECT_EQ(client_.tls_ready, 0);
}

TEST_F(ConnectionTlsTest, VerifyNoneConnectsToUntrustedServer) {
  echoOnServer();
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  auto insecure = tls::Context::client(tls::Verify::None, "");
  ASSERT_TRUE(insecure);
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(*insecure, TlsRole::Client, "pop.example.net");
  client_.connection->write("CAPA\r\n");
  ASSERT_TRUE(runUntil([&] { return client_.received == "CAPA\r\n"; }));
}

TEST_F(ConnectionTlsTest, PlaintextClientOnTlsPortIsRejected) {
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  ASSERT_TRUE(connectClient());
  client_.connection->write("a1 LOGIN alice secret\r\n");
  ASSERT_TRUE(runUntil([&] { return server().close_calls == 1; }));
  ASSERT_TRUE(server().close_error.has_value());
  EXPECT_THAT(server().close_error->message, HasSubstr("handshake failed"));
  EXPECT_TRUE(server().received.empty());
}

TEST_F(ConnectionTlsTest, CloseAfterWriteSendsCloseNotify) {
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(client_ctx_, TlsRole::Client, "localhost");
  ASSERT_TRUE(runUntil([&] { return server().tls_ready == 1 && client_.tls_ready == 1; }));
  server().connection->write("* BYE logging out\r\n");
  server().connection->closeAfterWrite();
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1 && server().close_calls == 1; }));
  EXPECT_EQ(client_.received, "* BYE logging out\r\n");
  EXPECT_FALSE(client_.close_error.has_value());
  EXPECT_FALSE(server().close_error.has_value());
}

TEST_F(ConnectionTlsTest, LargeTransferBothWays) {
  constexpr std::size_t kSize = 8u * 1024 * 1024;
  const std::string up = patternChunk(1, kSize);
  const std::string down = patternChunk(2, kSize);
  std::size_t max_pending = 0;
  std::size_t sent_down = 0;
  std::function<void(Endpoint&)> produce = [&](Endpoint& e) {
    while (sent_down < kSize && !e.connection->congested()) {
      const std::size_t n = std::min<std::size_t>(100000, kSize - sent_down);
      e.connection->write(down.substr(sent_down, n));
      sent_down += n;
      max_pending = std::max(max_pending, e.connection->pendingOutput());
    }
  };
  // Up first, then down: two peers that both stop reading while their own output is congested
  // would wait on each other if both pushed megabytes at once.
  on_accept_ = [&](Endpoint& e) {
    e.on_drain = produce;
    e.on_data = [&](Endpoint& self, std::string_view) {
      if (self.received.size() == kSize) {
        produce(self);
      }
    };
  };
  after_accept_ = [this](Endpoint& e) { e.connection->startTls(server_ctx_, TlsRole::Server, ""); };
  ASSERT_TRUE(connectClient());
  client_.connection->startTls(client_ctx_, TlsRole::Client, "localhost");
  client_.connection->write(up);  // one big write: queued, encrypted, sent in pieces
  ASSERT_TRUE(runUntil(
      [&] { return server().received.size() >= kSize && client_.received.size() >= kSize; }));
  EXPECT_TRUE(server().received == up);
  EXPECT_TRUE(client_.received == down);
  // TLS framing adds a little; the producer still never ran far past the high mark.
  EXPECT_LE(max_pending, Connection::kDefaultHighMark + 100000 + 4096);
}

}  // namespace
}  // namespace popbridge::proxy
