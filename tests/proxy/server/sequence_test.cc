#include "proxy/imap/sequence.h"

#include <gtest/gtest.h>

namespace popbridge::proxy::imap {
namespace {

SelectedMailbox boxWithUids(std::initializer_list<std::uint32_t> uids) {
  SelectedMailbox box;
  for (const std::uint32_t uid : uids) {
    store::MessageInfo info{};
    info.uid = uid;
    box.messages.push_back(info);
  }
  return box;
}

popbridge::imap::SequenceSet set(std::string_view text) {
  auto parsed = popbridge::imap::SequenceSet::parse(text);
  EXPECT_TRUE(parsed) << text;
  return *parsed;
}

TEST(ResolveSetTest, SequenceNumbersIncludingStar) {
  const SelectedMailbox box = boxWithUids({3, 7, 9, 20});
  auto all = resolveSet(box, set("1:*"), SetKind::SequenceNumbers);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<std::size_t>{0, 1, 2, 3}));
  auto some = resolveSet(box, set("4,2"), SetKind::SequenceNumbers);
  ASSERT_TRUE(some);
  EXPECT_EQ(*some, (std::vector<std::size_t>{1, 3}));
}

TEST(ResolveSetTest, SequenceNumberBeyondTheMailboxIsAnError) {
  const SelectedMailbox box = boxWithUids({3, 7});
  EXPECT_FALSE(resolveSet(box, set("3"), SetKind::SequenceNumbers));
  EXPECT_FALSE(resolveSet(boxWithUids({}), set("1:*"), SetKind::SequenceNumbers));
}

TEST(ResolveSetTest, UidsIgnoreMissingOnesAndStarAlwaysMeansTheLast) {
  const SelectedMailbox box = boxWithUids({3, 7, 9, 20});
  auto range = resolveSet(box, set("4:9"), SetKind::Uids);
  ASSERT_TRUE(range);
  EXPECT_EQ(*range, (std::vector<std::size_t>{1, 2}));
  // RFC 3501 6.4.8: "n:*" includes the highest UID even when n is larger.
  auto beyond = resolveSet(box, set("100:*"), SetKind::Uids);
  ASSERT_TRUE(beyond);
  EXPECT_EQ(*beyond, (std::vector<std::size_t>{3}));
  auto none = resolveSet(box, set("21"), SetKind::Uids);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace popbridge::proxy::imap
