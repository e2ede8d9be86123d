#include "proxy/config/suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace popbridge::proxy::config {
namespace {

TEST(EditDistance, Basics) {
  EXPECT_EQ(editDistance("", ""), 0U);
  EXPECT_EQ(editDistance("abc", ""), 3U);
  EXPECT_EQ(editDistance("tls", "tls"), 0U);
  EXPECT_EQ(editDistance("tsl", "tls"), 1U);  // adjacent transposition
  EXPECT_EQ(editDistance("pasword", "password"), 1U);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3U);
}

TEST(EqualsIgnoringAsciiCase, Basics) {
  EXPECT_TRUE(equalsIgnoringAsciiCase("Alice", "aLICE"));
  EXPECT_TRUE(equalsIgnoringAsciiCase("", ""));
  EXPECT_FALSE(equalsIgnoringAsciiCase("alice", "alice2"));
  EXPECT_FALSE(equalsIgnoringAsciiCase("a-b", "a_b"));
  EXPECT_FALSE(equalsIgnoringAsciiCase("@", "`"));  // 0x40 vs 0x60: not letters
}

TEST(ClosestMatch, SuggestsOnlyCloseWords) {
  constexpr std::array<std::string_view, 4> kKnown{"password_file", "password_env", "password",
                                                   "port"};
  EXPECT_EQ(closestMatch("pasword_file", kKnown), "password_file");
  EXPECT_EQ(closestMatch("PASSWORD", kKnown), "password");
  EXPECT_EQ(closestMatch("prot", kKnown), "port");
  EXPECT_EQ(closestMatch("colour", kKnown), std::nullopt);
  EXPECT_EQ(closestMatch("p", kKnown), std::nullopt);  // too short to guess from
  EXPECT_EQ(closestMatch("x", std::span<const std::string_view>()), std::nullopt);
}

}  // namespace
}  // namespace popbridge::proxy::config
