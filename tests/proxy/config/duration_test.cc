#include "proxy/config/duration.h"

#include <gtest/gtest.h>

namespace popbridge::proxy::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(parseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(parseDuration("30s").value(), milliseconds(30'000));
  EXPECT_EQ(parseDuration("5m").value(), milliseconds(300'000));
  EXPECT_EQ(parseDuration("1h").value(), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("2d").value(), milliseconds(172'800'000));
  EXPECT_EQ(parseDuration("0s").value(), milliseconds(0));
}

TEST(ParseDuration, CombinedLargestFirst) {
  EXPECT_EQ(parseDuration("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(parseDuration("1m30s250ms").value(), milliseconds(90'250));
}

TEST(ParseDuration, RejectsMissingOrUnknownUnit) {
  const auto bare = parseDuration("5");
  ASSERT_FALSE(bare.has_value());
  EXPECT_NE(bare.error().find("needs a unit"), std::string::npos) << bare.error();

  const auto unknown = parseDuration("5x");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().find("unknown unit \"x\""), std::string::npos) << unknown.error();

  EXPECT_FALSE(parseDuration("5 m").has_value());
  EXPECT_FALSE(parseDuration("5M").has_value());
  EXPECT_FALSE(parseDuration("").has_value());
  EXPECT_FALSE(parseDuration("m").has_value());
  EXPECT_FALSE(parseDuration("-5s").has_value());
  EXPECT_FALSE(parseDuration("1.5s").has_value());
}

TEST(ParseDuration, RejectsUnitsOutOfOrderOrRepeated) {
  EXPECT_FALSE(parseDuration("30m1h").has_value());
  EXPECT_FALSE(parseDuration("1m1m").has_value());
  EXPECT_FALSE(parseDuration("1ms1s").has_value());
}

TEST(ParseDuration, RejectsOverflow) {
  const auto huge = parseDuration("99999999999999999999ms");
  ASSERT_FALSE(huge.has_value());
  EXPECT_NE(huge.error().find("too large"), std::string::npos);
  EXPECT_FALSE(parseDuration("9223372036854775807d").has_value());
  EXPECT_EQ(parseDuration("9223372036854775807ms").value(),
            milliseconds(9'223'372'036'854'775'807LL));
}

TEST(FormatDuration, LargestExactUnitsAndRoundTrip) {
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(formatDuration(milliseconds(100)), "100ms");
  EXPECT_EQ(formatDuration(milliseconds(300'000)), "5m");
  EXPECT_EQ(formatDuration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(1'500)), "1s500ms");
  for (const long long ms : {1LL, 999LL, 1000LL, 61'001LL, 86'400'000LL, 90'061'001LL}) {
    EXPECT_EQ(parseDuration(formatDuration(milliseconds(ms))).value(), milliseconds(ms)) << ms;
  }
}

}  // namespace
}  // namespace popbridge::proxy::config
