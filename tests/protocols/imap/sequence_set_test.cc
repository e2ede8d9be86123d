#include "protocols/imap/sequence_set.h"

#include <gtest/gtest.h>

namespace popbridge::imap {
namespace {

TEST(SequenceSetTest, ParsesRangesAsWritten) {
  auto set = SequenceSet::parse("1,3:5,7:*,9:8,*:2,*");
  ASSERT_TRUE(set);
  ASSERT_EQ(set->ranges.size(), 6u);
  EXPECT_EQ(set->ranges[0].first, 1u);
  EXPECT_EQ(set->ranges[0].last, 1u);
  EXPECT_EQ(set->ranges[1].first, 3u);
  EXPECT_EQ(set->ranges[1].last, 5u);
  EXPECT_EQ(set->ranges[2].last, kStar);
  EXPECT_EQ(set->ranges[3].first, 9u);
  EXPECT_EQ(set->ranges[3].last, 8u);
  EXPECT_EQ(set->ranges[4].first, kStar);
  EXPECT_EQ(set->ranges[5].first, kStar);
  EXPECT_EQ(set->toString(), "1,3:5,7:*,9:8,*:2,*");
}

TEST(SequenceSetTest, LargestNumber) {
  auto set = SequenceSet::parse("4294967294:4294967295");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->ranges[0].first, 4294967294u);
  EXPECT_FALSE(SequenceSet::parse("4294967296"));
  EXPECT_FALSE(SequenceSet::parse("99999999999999999999999"));
}

TEST(SequenceSetTest, RejectsJunk) {
  for (const char* bad :
       {"",  "0",   "1:0", "01",   ",1", "1,",  "1,,2", "1:",  ":1", "1::2", "1:2:3",
        "a", "1 2", "**",  "1:*x", "$$", "1,$", "$:3",  "$,1", "-1", "+1"}) {
    auto set = SequenceSet::parse(bad);
    EXPECT_FALSE(set) << bad;
    if (!set) {
      EXPECT_EQ(set.error().kind, ParseError::Kind::Bad);
      EXPECT_FALSE(set.error().message.empty());
    }
  }
}

TEST(SequenceSetTest, SavedResultMarker) {
  // RFC 5182 3: "$" is a whole sequence-set of its own.
  auto set = SequenceSet::parse("$");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->saved);
  EXPECT_TRUE(set->ranges.empty());
  EXPECT_EQ(set->toString(), "$");
  EXPECT_FALSE(set->contains(1, 10));
  EXPECT_FALSE(SequenceSet::parse("1:2")->saved);
}

TEST(SequenceSetTest, Contains) {
  auto set = SequenceSet::parse("1,3:5,9:7,20:*");
  ASSERT_TRUE(set);
  const std::uint32_t largest = 25;
  std::vector<std::uint32_t> inside;
  for (std::uint32_t n = 1; n <= 30; ++n) {
    if (set->contains(n, largest)) {
      inside.push_back(n);
    }
  }
  EXPECT_EQ(inside, (std::vector<std::uint32_t>{1, 3, 4, 5, 7, 8, 9, 20, 21, 22, 23, 24, 25}));
}

TEST(SequenceSetTest, StarBelowStartTurnsAround) {
  // RFC 3501 6.4.8: "UID range of 559:*" includes the largest UID even if it is below 559.
  auto set = SequenceSet::parse("559:*");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->contains(100, 100));
  EXPECT_FALSE(set->contains(99, 100));
  auto star = SequenceSet::parse("*");
  EXPECT_TRUE(star->contains(42, 42));
  EXPECT_FALSE(star->contains(41, 42));
}

}  // namespace
}  // namespace popbridge::imap
