// FETCH BINARY's cache of decoded part sizes (UserStore::decodedSize / recordDecodedSize) and
// the schema version 8 migration that adds it.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::sqlCount;
using testing::sqlExec;

class DecodedSizeTest : public testing::UserTest {
 protected:
  std::uint32_t append(const std::string& mailbox, const std::string& subject) {
    std::vector<NewMessage> batch;
    batch.push_back(newMessage(*user_, makeMessage(subject, 300)));
    auto changes = user_->append(mailbox, std::move(batch));
    EXPECT_TRUE(changes.has_value()) << changes.error().message;
    return changes ? changes->appended.at(0).uid : 0;
  }
  std::optional<DecodedSize> lookup(std::int64_t mailbox, std::uint32_t uid,
                                    const std::string& part, std::int64_t decoder = 1) {
    auto found = user_->decodedSize(mailbox, uid, part, decoder);
    EXPECT_TRUE(found.has_value()) << found.error().message;
    return found ? *found : std::nullopt;
  }
  void record(std::int64_t mailbox, std::uint32_t uid, const std::string& part, DecodedSize size,
              std::int64_t decoder = 1) {
    auto recorded = user_->recordDecodedSize(mailbox, uid, part, decoder, size);
    ASSERT_TRUE(recorded.has_value()) << recorded.error().message;
    EXPECT_TRUE(*recorded);  // nothing else writes here
  }
  std::int64_t rows() const { return sqlCount(userDir(), "SELECT count(*) FROM decoded_sizes"); }
};

TEST_F(DecodedSizeTest, RecordedSizeIsFoundPerPartAndDecoderVersion) {
  const std::uint32_t a = append("INBOX", "a");
  const std::uint32_t b = append("INBOX", "b");
  EXPECT_EQ(lookup(inbox_, a, "2"), std::nullopt);
  record(inbox_, a, "2", DecodedSize{512000, false});
  record(inbox_, a, "1.1", DecodedSize{7, true});
  record(inbox_, a, "", DecodedSize{1234, false});
  const auto two = lookup(inbox_, a, "2");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->size, 512000u);
  EXPECT_FALSE(two->has_nul);
  const auto nested = lookup(inbox_, a, "1.1");
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->size, 7u);
  EXPECT_TRUE(nested->has_nul);
  EXPECT_EQ(lookup(inbox_, a, "")->size, 1234u);
  EXPECT_EQ(lookup(inbox_, a, "1"), std::nullopt);
  EXPECT_EQ(lookup(inbox_, b, "2"), std::nullopt);     // another body
  EXPECT_EQ(lookup(inbox_, a, "2", 2), std::nullopt);  // another decoder's output
  EXPECT_EQ(lookup(inbox_, 99, "2"), std::nullopt);
  // Recording again replaces (a newer count of the same decoder).
  record(inbox_, a, "2", DecodedSize{512001, true});
  EXPECT_EQ(lookup(inbox_, a, "2")->size, 512001u);
  // A message that is gone records nothing.
  record(inbox_, 77, "2", DecodedSize{1, false});
  EXPECT_EQ(rows(), 3);
  // It survives a restart.
  open();
  EXPECT_EQ(lookup(inbox_, a, "2")->size, 512001u);
}

TEST_F(DecodedSizeTest, CopiesShareTheSizeAndItGoesWithTheLastMessageOfItsBody) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  const auto work = user_->mailbox("Work").value().id;
  const std::uint32_t a = append("INBOX", "a");
  record(inbox_, a, "2", DecodedSize{42, false});
  const std::vector<std::uint32_t> uids{a};
  auto copied = user_->transfer(inbox_, uids, "Work", TransferMode::Copy);
  ASSERT_TRUE(copied.has_value());
  EXPECT_EQ(lookup(work, 1, "2")->size, 42u);  // the copy shares the body
  ASSERT_TRUE(user_->storeFlags(inbox_, uids, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, std::nullopt));
  EXPECT_EQ(lookup(work, 1, "2")->size, 42u);  // the body is still referenced
  EXPECT_EQ(rows(), 1);
  ASSERT_TRUE(user_->deleteMailbox("Work"));
  EXPECT_EQ(rows(), 0);  // the blob went, and its row with it
}

// Back to schema version 7 (no table), then the step run again on a store that has it: both
// open, keep every message and end with an empty, working cache.
TEST_F(DecodedSizeTest, VersionSevenStoreGainsTheTableAndTheStepIsIdempotent) {
  const std::uint32_t a = append("INBOX", "a");
  record(inbox_, a, "2", DecodedSize{42, false});
  close();
  for (const char* downgrade :
       {"DROP TABLE decoded_sizes; PRAGMA user_version = 7;", "PRAGMA user_version = 7;"}) {
    ASSERT_NO_FATAL_FAILURE(sqlExec(userDir(), downgrade));
    open();
    ASSERT_EQ(user_->listMessages(inbox_).value().size(), 1u);
    record(inbox_, a, "2", DecodedSize{43, false});
    EXPECT_EQ(lookup(inbox_, a, "2")->size, 43u);
    EXPECT_EQ(rows(), 1);
    close();
  }
  open();
}

}  // namespace
}  // namespace popbridge::store
