#include "proxy/core/socket_address.h"

#include <gtest/gtest.h>

namespace popbridge::proxy {
namespace {

std::string roundTrip(std::string_view text) {
  auto parsed = parseListenAddress(text);
  if (!parsed) {
    return "error: " + parsed.error().message;
  }
  return formatAddress(reinterpret_cast<const sockaddr*>(&*parsed));
}

TEST(SocketAddress, ParsesAndFormats) {
  EXPECT_EQ(roundTrip("0.0.0.0:143"), "0.0.0.0:143");
  EXPECT_EQ(roundTrip("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(roundTrip("[::1]:993"), "[::1]:993");
  EXPECT_EQ(roundTrip("[::]:143"), "[::]:143");
  EXPECT_EQ(roundTrip("localhost:1143"), "127.0.0.1:1143");
}

TEST(SocketAddress, RejectsBadInput) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x",
                          "mail.example.org:143", "[127.0.0.1]:143", "::1:993", ":143"}) {
    auto parsed = parseListenAddress(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
    }
  }
}

TEST(SocketAddress, Loopback) {
  const auto loopback = [](std::string_view text) {
    auto parsed = parseListenAddress(text);
    EXPECT_TRUE(parsed) << text;
    return parsed && isLoopback(reinterpret_cast<const sockaddr*>(&*parsed));
  };
  EXPECT_TRUE(loopback("127.0.0.1:1"));
  EXPECT_TRUE(loopback("127.9.8.7:1"));
  EXPECT_TRUE(loopback("[::1]:1"));
  EXPECT_TRUE(loopback("[::ffff:127.0.0.1]:1"));
  EXPECT_FALSE(loopback("10.0.0.1:1"));
  EXPECT_FALSE(loopback("[::2]:1"));
  EXPECT_FALSE(loopback("[::ffff:10.0.0.1]:1"));
  EXPECT_FALSE(isLoopback(nullptr));
}

}  // namespace
}  // namespace popbridge::proxy
