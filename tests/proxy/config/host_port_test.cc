#include "proxy/config/host_port.h"

#include <gtest/gtest.h>

namespace popbridge::proxy::config {
namespace {

TEST(ParseListenAddress, Ipv4) {
  const auto parsed = parseListenAddress("0.0.0.0:143");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->host, "0.0.0.0");
  EXPECT_EQ(parsed->port, 143);
  EXPECT_EQ(parsed->family, AddressFamily::Ipv4);
}

TEST(ParseListenAddress, BracketedIpv6) {
  auto parsed = parseListenAddress("[::1]:993");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->host, "::1");
  EXPECT_EQ(parsed->port, 993);
  EXPECT_EQ(parsed->family, AddressFamily::Ipv6);

  parsed = parseListenAddress("[2001:db8::17]:0");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->host, "2001:db8::17");
  EXPECT_EQ(parsed->port, 0);
}

TEST(ParseListenAddress, Refusals) {
  const auto bare_v6 = parseListenAddress("::1:143");
  ASSERT_FALSE(bare_v6.has_value());
  EXPECT_NE(bare_v6.error().find("\"[::1]:143\""), std::string::npos) << bare_v6.error();

  const auto name = parseListenAddress("localhost:143");
  ASSERT_FALSE(name.has_value());
  EXPECT_NE(name.error().find("not a numeric IPv4 address"), std::string::npos);

  for (const char* bad :
       {"", "143", ":143", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:65536", "1.2.3.4:1x", "[::1]",
        "[::1]:", "[::1", "[1.2.3.4]:1", "[::1]x1", "256.1.1.1:1", "1.2.3.4: 1"}) {
    EXPECT_FALSE(parseListenAddress(bad).has_value()) << bad;
  }
}

TEST(ParsePort, Range) {
  EXPECT_EQ(parsePort("1", 1).value(), 1);
  EXPECT_EQ(parsePort("65535", 1).value(), 65535);
  EXPECT_EQ(parsePort("0", 0).value(), 0);
  EXPECT_FALSE(parsePort("0", 1).has_value());
  EXPECT_FALSE(parsePort("65536", 0).has_value());
  EXPECT_FALSE(parsePort("99999999999999999999", 0).has_value());
  EXPECT_FALSE(parsePort("+5", 0).has_value());
  EXPECT_FALSE(parsePort("", 0).has_value());
}

}  // namespace
}  // namespace popbridge::proxy::config
