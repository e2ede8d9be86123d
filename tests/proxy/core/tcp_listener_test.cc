#include "proxy/core/tcp_listener.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "proxy/core/connection.h"
#include "tests/proxy/core/connection_fixture.h"

namespace popbridge::proxy {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

class TcpListenerTest : public testing::LoopTest {};

TEST_F(TcpListenerTest, PortZeroPicksAFreePortAndAccepts) {
  std::vector<std::unique_ptr<Connection>> accepted;
  auto listener = TcpListener::listen(loop(), "127.0.0.1:0", [&](uv_stream_t* server) {
    auto connection = Connection::accept(loop(), server);
    ASSERT_TRUE(connection) << connection.error().message;
    accepted.push_back(std::move(*connection));
  });
  ASSERT_TRUE(listener) << listener.error().message;
  const std::uint16_t port = (*listener)->port();
  EXPECT_NE(port, 0);
  EXPECT_EQ((*listener)->address(), "127.0.0.1:" + std::to_string(port));

  auto outcome = testing::startConnect(loop(), "127.0.0.1", port, milliseconds(5000));
  ASSERT_TRUE(runUntil([&] { return outcome->has_value() && accepted.size() == 1; }));
  ASSERT_TRUE(**outcome) << (*outcome)->error().message;
  const auto& client = ***outcome;
  EXPECT_TRUE(accepted[0]->peerIsLoopback());
  EXPECT_THAT(accepted[0]->peerAddress(), HasSubstr("127.0.0.1:"));
  EXPECT_EQ(client->peerAddress(), "127.0.0.1:" + std::to_string(port));
  (*listener)->close();
}

TEST_F(TcpListenerTest, Ipv6Loopback) {
  auto listener = TcpListener::listen(loop(), "[::1]:0", [](uv_stream_t*) {});
  if (!listener) {
    GTEST_SKIP() << "no IPv6 loopback here: " << listener.error().message;
  }
  EXPECT_EQ((*listener)->address(), "[::1]:" + std::to_string((*listener)->port()));
}

TEST_F(TcpListenerTest, AddressInUseIsAnError) {
  auto first = TcpListener::listen(loop(), "127.0.0.1:0", [](uv_stream_t*) {});
  ASSERT_TRUE(first);
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = TcpListener::listen(loop(), taken, [](uv_stream_t*) {});
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr(taken));
  EXPECT_THAT(second.error().message, HasSubstr("address already in use"));
}

TEST_F(TcpListenerTest, BadAddressIsAnError) {
  auto listener = TcpListener::listen(loop(), "imap.example.org:143", [](uv_stream_t*) {});
  ASSERT_FALSE(listener);
  EXPECT_THAT(listener.error().message, HasSubstr("imap.example.org:143"));
}

TEST_F(TcpListenerTest, ClosedListenerRefusesConnections) {
  auto listener = TcpListener::listen(loop(), "127.0.0.1:0", [](uv_stream_t*) {});
  ASSERT_TRUE(listener);
  const std::uint16_t port = (*listener)->port();
  (*listener)->close();
  (*listener)->close();
  auto outcome = testing::startConnect(loop(), "127.0.0.1", port, milliseconds(5000));
  ASSERT_TRUE(runUntil([&] { return outcome->has_value(); }));
  ASSERT_FALSE(**outcome);
  EXPECT_THAT((*outcome)->error().message, HasSubstr("connection refused"));
}

}  // namespace
}  // namespace popbridge::proxy
