#include "proxy/tls/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tests/proxy/tls/test_credentials.h"

namespace popbridge::proxy::tls {
namespace {

using ::testing::HasSubstr;
using State = Engine::State;

std::shared_ptr<Context> serverContext(const testing::Credentials& creds) {
  auto ctx = Context::server(creds.cert_file, creds.key_file);
  EXPECT_TRUE(ctx) << ctx.error().message;
  return ctx ? *ctx : nullptr;
}

std::shared_ptr<Context> clientContext(Verify verify, const std::string& ca_file) {
  auto ctx = Context::client(verify, ca_file);
  EXPECT_TRUE(ctx) << ctx.error().message;
  return ctx ? *ctx : nullptr;
}

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Two engines wired back to back, as a client and a server would be over a socket.
struct Pair {
  Engine client;
  Engine server;
  std::string client_received;  // plaintext the client decrypted
  std::string server_received;
  Result<void, Error> client_result{};
  Result<void, Error> server_result{};
  std::size_t wire_bytes = 0;

  Pair(std::shared_ptr<Context> client_ctx, std::shared_ptr<Context> server_ctx, std::string name)
      : client(std::move(client_ctx), TlsRole::Client, std::move(name)),
        server(std::move(server_ctx), TlsRole::Server, "") {}

  // Moves ciphertext both ways until neither side has anything to say. `step` > 0 feeds the
  // bytes in pieces of that size to exercise record reassembly.
  void pump(std::size_t step = 0) {
    for (int round = 0; round < 1000; ++round) {
      std::string to_server;
      std::string to_client;
      client.takeCiphertext(to_server);
      server.takeCiphertext(to_client);
      if (to_server.empty() && to_client.empty()) {
        return;
      }
      wire_bytes += to_server.size() + to_client.size();
      deliver(to_server, server, server_received, server_result, step);
      deliver(to_client, client, client_received, client_result, step);
    }
    ADD_FAILURE() << "engines never went quiet";
  }

  // Client speaks first; returns after both ends saw the handshake through (or failed).
  void handshake(std::size_t step = 0) {
    client_result = client.readPlaintext(client_received);
    pump(step);
  }

 private:
  static void deliver(const std::string& bytes, Engine& to, std::string& received,
                      Result<void, Error>& result, std::size_t step) {
    if (bytes.empty()) {
      return;
    }
    const std::size_t piece = step == 0 ? bytes.size() : step;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      to.feedCiphertext(std::string_view(bytes).substr(at, piece));
      auto r = to.readPlaintext(received);
      if (!r && result) {
        result = r;
      }
    }
  }
};

class TlsEngine : public ::testing::Test {
 protected:
  testing::Credentials creds_;
  std::shared_ptr<Context> server_ctx_ = serverContext(creds_);
  std::shared_ptr<Context> trusting_ctx_ = clientContext(Verify::Peer, creds_.cert_file);
};

TEST_F(TlsEngine, HandshakeAndDataBothWays) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  EXPECT_EQ(pair.client.state(), State::Handshaking);
  pair.handshake();
  ASSERT_TRUE(pair.client_result) << pair.client_result.error().message;
  ASSERT_TRUE(pair.server_result) << pair.server_result.error().message;
  ASSERT_EQ(pair.client.state(), State::Open);
  ASSERT_EQ(pair.server.state(), State::Open);

  ASSERT_TRUE(pair.client.writePlaintext("a1 CAPABILITY\r\n"));
  pair.pump();
  EXPECT_EQ(pair.server_received, "a1 CAPABILITY\r\n");
  ASSERT_TRUE(pair.server.writePlaintext("* CAPABILITY IMAP4rev1\r\na1 OK\r\n"));
  pair.pump();
  EXPECT_EQ(pair.client_received, "* CAPABILITY IMAP4rev1\r\na1 OK\r\n");
  EXPECT_TRUE(pair.client.failure().empty());
}

TEST_F(TlsEngine, WritesDuringHandshakeAreHeldThenSent) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  ASSERT_TRUE(pair.client.writePlaintext("USER alice\r\n"));
  EXPECT_EQ(pair.client.pendingPlaintext(), 12u);
  pair.handshake();
  ASSERT_TRUE(pair.server_result) << pair.server_result.error().message;
  EXPECT_EQ(pair.client.pendingPlaintext(), 0u);
  EXPECT_EQ(pair.server_received, "USER alice\r\n");
}

TEST_F(TlsEngine, HandshakeFedOneByteAtATime) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  pair.handshake(/*step=*/1);
  ASSERT_EQ(pair.client.state(), State::Open) << pair.client.failure();
  ASSERT_EQ(pair.server.state(), State::Open) << pair.server.failure();
  ASSERT_TRUE(pair.server.writePlaintext("+OK ready\r\n"));
  pair.pump(1);
  EXPECT_EQ(pair.client_received, "+OK ready\r\n");
}

TEST_F(TlsEngine, HostnameMismatchFailsWithReason) {
  Pair pair(trusting_ctx_, server_ctx_, "pop.example.net");
  pair.handshake();
  ASSERT_FALSE(pair.client_result);
  EXPECT_EQ(pair.client.state(), State::Failed);
  EXPECT_THAT(pair.client.failure(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(pair.client.failure(), ::testing::ContainsRegex("[Hh]ostname mismatch"));
  EXPECT_EQ(pair.client_result.error().message, pair.client.failure());
  // The client's alert reaches the server, which fails too instead of waiting forever.
  EXPECT_EQ(pair.server.state(), State::Failed);
  EXPECT_FALSE(pair.client.writePlaintext("x"));
}

TEST_F(TlsEngine, IpAddressIsCheckedAgainstIpSubjectAltName) {
  Pair good(trusting_ctx_, server_ctx_, "127.0.0.1");
  good.handshake();
  EXPECT_EQ(good.client.state(), State::Open) << good.client.failure();

  Pair bad(trusting_ctx_, server_ctx_, "127.0.0.2");
  bad.handshake();
  EXPECT_EQ(bad.client.state(), State::Failed);
  EXPECT_THAT(bad.client.failure(), HasSubstr("certificate verify failed"));
}

TEST_F(TlsEngine, UntrustedCertificateFailsUnderVerifyPeer) {
  Pair pair(clientContext(Verify::Peer, ""), server_ctx_, "localhost");
  pair.handshake();
  EXPECT_EQ(pair.client.state(), State::Failed);
  EXPECT_THAT(pair.client.failure(), HasSubstr("certificate verify failed: "));
  EXPECT_THAT(pair.client.failure(), HasSubstr("self"));  // self-signed, in the library's words
}

TEST_F(TlsEngine, CertificateOfAnotherCaFails) {
  testing::Credentials other;
  Pair pair(clientContext(Verify::Peer, other.cert_file), server_ctx_, "localhost");
  pair.handshake();
  EXPECT_EQ(pair.client.state(), State::Failed);
  EXPECT_THAT(pair.client.failure(), HasSubstr("certificate verify failed"));
}

TEST_F(TlsEngine, VerifyNoneAcceptsUntrustedAndMismatchedCertificate) {
  Pair pair(clientContext(Verify::None, ""), server_ctx_, "pop.example.net");
  pair.handshake();
  ASSERT_EQ(pair.client.state(), State::Open) << pair.client.failure();
  ASSERT_TRUE(pair.client.writePlaintext("QUIT\r\n"));
  pair.pump();
  EXPECT_EQ(pair.server_received, "QUIT\r\n");
}

TEST_F(TlsEngine, VerifyPeerWithoutServerNameRefusesToStart) {
  Engine engine(trusting_ctx_, TlsRole::Client, "");
  EXPECT_EQ(engine.state(), State::Failed);
  EXPECT_THAT(engine.failure(), HasSubstr("server name"));
  std::string out;
  EXPECT_FALSE(engine.readPlaintext(out));
}

TEST_F(TlsEngine, LargeDataBothWays) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  pair.handshake();
  ASSERT_EQ(pair.client.state(), State::Open);
  const std::string up = pattern(6 * 1024 * 1024 + 17, 1);
  const std::string down = pattern(5 * 1024 * 1024 + 3, 2);
  // Mixed write sizes; the receiving side gets everything at once (megabytes of records).
  for (std::size_t at = 0; at < up.size(); at += 300000) {
    ASSERT_TRUE(pair.client.writePlaintext(std::string_view(up).substr(at, 300000)));
  }
  ASSERT_TRUE(pair.server.writePlaintext(down));
  pair.pump();
  ASSERT_TRUE(pair.client_result) << pair.client_result.error().message;
  ASSERT_TRUE(pair.server_result) << pair.server_result.error().message;
  EXPECT_EQ(pair.server_received.size(), up.size());
  EXPECT_TRUE(pair.server_received == up);
  EXPECT_EQ(pair.client_received.size(), down.size());
  EXPECT_TRUE(pair.client_received == down);
  EXPECT_GT(pair.wire_bytes, up.size() + down.size());  // it was encrypted, with overhead
}

TEST_F(TlsEngine, CiphertextIsNotPlaintext) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  pair.handshake();
  ASSERT_TRUE(pair.client.writePlaintext("PASS secret-password\r\n"));
  std::string wire;
  pair.client.takeCiphertext(wire);
  ASSERT_FALSE(wire.empty());
  EXPECT_EQ(wire.find("secret-password"), std::string::npos);
  pair.server.feedCiphertext(wire);
  ASSERT_TRUE(pair.server.readPlaintext(pair.server_received));
  EXPECT_EQ(pair.server_received, "PASS secret-password\r\n");
}

TEST_F(TlsEngine, CloseNotifyEndsThePeersStream) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  pair.handshake();
  ASSERT_TRUE(pair.server.writePlaintext("* BYE\r\n"));
  pair.server.shutdown();
  EXPECT_FALSE(pair.server.writePlaintext("late"));
  pair.pump();
  EXPECT_EQ(pair.client_received, "* BYE\r\n");
  EXPECT_EQ(pair.client.state(), State::Closed);
  ASSERT_TRUE(pair.client_result);
  // Reading after Closed is harmless and yields nothing.
  std::string more;
  EXPECT_TRUE(pair.client.readPlaintext(more));
  EXPECT_TRUE(more.empty());
  // The client answers with its own close_notify; the server sees its peer close as well.
  pair.client.shutdown();
  pair.pump();
  EXPECT_EQ(pair.server.state(), State::Closed);
}

TEST_F(TlsEngine, GarbageFromClientFailsServer) {
  Engine server(server_ctx_, TlsRole::Server, "");
  server.feedCiphertext("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out;
  auto r = server.readPlaintext(out);
  ASSERT_FALSE(r);
  EXPECT_EQ(server.state(), State::Failed);
  EXPECT_THAT(server.failure(), HasSubstr("handshake failed"));
  EXPECT_TRUE(out.empty());
}

TEST_F(TlsEngine, CorruptedRecordFailsReceiver) {
  Pair pair(trusting_ctx_, server_ctx_, "localhost");
  pair.handshake();
  ASSERT_TRUE(pair.client.writePlaintext("hello"));
  std::string wire;
  pair.client.takeCiphertext(wire);
  wire.back() = static_cast<char>(wire.back() ^ 0x55);  // breaks the AEAD tag
  pair.server.feedCiphertext(wire);
  std::string out;
  EXPECT_FALSE(pair.server.readPlaintext(out));
  EXPECT_EQ(pair.server.state(), State::Failed);
  EXPECT_TRUE(out.empty());
}

TEST_F(TlsEngine, FailureOfOneSessionDoesNotLeakIntoAnother) {
  // A failing engine must leave the thread's error queue empty for the next one (STYLE.md 5.6).
  Pair bad(clientContext(Verify::Peer, ""), server_ctx_, "localhost");
  bad.handshake();
  ASSERT_EQ(bad.client.state(), State::Failed);
  Pair good(trusting_ctx_, server_ctx_, "localhost");
  good.handshake();
  EXPECT_EQ(good.client.state(), State::Open) << good.client.failure();
  EXPECT_EQ(good.server.state(), State::Open) << good.server.failure();
}

}  // namespace
}  // namespace popbridge::proxy::tls
