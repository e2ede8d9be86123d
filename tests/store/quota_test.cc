// Quota usage (schema version 5): kept exact by every write path, enforced inside the write
// transaction, recounted by the migration and verified by check().

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::countFiles;
using testing::makeMessage;
using testing::newMessage;
using testing::sqlExec;

class QuotaTest : public testing::UserTest {
 protected:
  // Appends one message of about `body_bytes` to `mailbox`; returns its size.
  std::uint64_t add(const std::string& mailbox, std::size_t body_bytes,
                    std::uint32_t system_flags = 0, const QuotaLimits& limits = {}) {
    std::vector<NewMessage> batch;
    batch.push_back(newMessage(*user_, makeMessage("m" + std::to_string(serial_++), body_bytes),
                               Flags{system_flags, {}}));
    auto done = user_->append(mailbox, std::move(batch), limits);
    EXPECT_TRUE(done.has_value()) << done.error().message;
    return done ? done->appended[0].size : 0;
  }

  // What a recount over every mailbox finds.
  QuotaUsage recount() {
    QuotaUsage usage;
    const auto boxes = user_->listMailboxes().value();
    for (const auto& box : boxes) {
      usage.bytes += box.total_bytes;
      usage.messages += box.messages;
    }
    return usage;
  }
  QuotaUsage kept() { return user_->quotaUsage().value(); }
  void expectExact() {
    EXPECT_EQ(kept(), recount());
    auto report = user_->check().value();
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  }

  int serial_ = 0;
};

TEST_F(QuotaTest, NewStoreIsEmpty) {
  EXPECT_EQ(kept(), (QuotaUsage{0, 0}));
  expectExact();
}

TEST_F(QuotaTest, AppendCountsEveryMessageAndByte) {
  const std::uint64_t a = add("INBOX", 100);
  const std::uint64_t b = add("Sent", 5000);
  EXPECT_EQ(kept(), (QuotaUsage{a + b, 2}));
  expectExact();
}

TEST_F(QuotaTest, PullBatchWithLedgerRowsCounts) {
  std::vector<NewMessage> batch;
  std::uint64_t bytes = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string body = makeMessage("pulled" + std::to_string(i), 300);
    bytes += body.size();
    batch.push_back(newMessage(*user_, body, {}, LedgerKey{"acct", "u" + std::to_string(i)}));
  }
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  EXPECT_EQ(kept(), (QuotaUsage{bytes, 4}));
  expectExact();
}

TEST_F(QuotaTest, CopyCountsTheSharedBodyAgainAndMoveChangesNothing) {
  const std::uint64_t a = add("INBOX", 1000);
  const std::vector<std::uint32_t> one{1};
  ASSERT_TRUE(user_->transfer(inbox_, one, "Archive", TransferMode::Copy));
  // RFC 9208 5.1: STORAGE is the sum of RFC822.SIZE of every message, copies included.
  EXPECT_EQ(kept(), (QuotaUsage{2 * a, 2}));
  ASSERT_TRUE(user_->transfer(inbox_, one, "Trash", TransferMode::Move));
  EXPECT_EQ(kept(), (QuotaUsage{2 * a, 2}));
  expectExact();
}

TEST_F(QuotaTest, ExpungeSubtracts) {
  const std::uint64_t a = add("INBOX", 100, kDeleted);
  const std::uint64_t b = add("INBOX", 200);
  ASSERT_TRUE(user_->expunge(inbox_, std::nullopt));
  EXPECT_EQ(kept(), (QuotaUsage{b, 1}));
  EXPECT_NE(a, b);
  expectExact();
}

TEST_F(QuotaTest, DeletingAMailboxSubtractsItsMessages) {
  ASSERT_TRUE(user_->createMailbox("Old"));
  add("Old", 100);
  add("Old", 200);
  const std::uint64_t kept_bytes = add("INBOX", 300);
  ASSERT_TRUE(user_->deleteMailbox("Old"));
  EXPECT_EQ(kept(), (QuotaUsage{kept_bytes, 1}));
  expectExact();
}

TEST_F(QuotaTest, RenamingInboxKeepsTheUsage) {
  const std::uint64_t a = add("INBOX", 100);
  const std::uint64_t b = add("INBOX", 200);
  ASSERT_TRUE(user_->renameMailbox("INBOX", "Before"));
  EXPECT_EQ(user_->mailbox("INBOX").value().messages, 0u);
  EXPECT_EQ(kept(), (QuotaUsage{a + b, 2}));
  ASSERT_TRUE(user_->renameMailbox("Before", "Later"));
  EXPECT_EQ(kept(), (QuotaUsage{a + b, 2}));
  expectExact();
}

TEST_F(QuotaTest, AppendOverTheStorageLimitLeavesNothingBehind) {
  const std::uint64_t a = add("INBOX", 1000);
  const std::size_t files = countFiles(userDir() / "blobs");
  const auto before = user_->mailbox("INBOX").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("small", 10)));
  batch.push_back(newMessage(*user_, makeMessage("too much", 1000)));
  auto refused = user_->append("INBOX", std::move(batch), QuotaLimits{a + 500, std::nullopt});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::OverQuota);
  EXPECT_EQ(kept(), (QuotaUsage{a, 1}));
  const auto after = user_->mailbox("INBOX").value();
  EXPECT_EQ(after.uidnext, before.uidnext);
  EXPECT_EQ(after.highestmodseq, before.highestmodseq);
  EXPECT_EQ(countFiles(userDir() / "blobs"), files);
  EXPECT_EQ(countFiles(userDir() / "tmp"), 0u);
  // Exactly at the limit is allowed (RFC 9208 5.1: usage may reach the limit).
  const std::uint64_t b = add("INBOX", 10, 0, QuotaLimits{std::nullopt, 2});
  add("INBOX", 10, 0, QuotaLimits{a + b + 1000, std::nullopt});
  expectExact();
}

TEST_F(QuotaTest, AppendOverTheMessageLimitIsRefused) {
  add("INBOX", 10);
  add("INBOX", 10);
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("third", 10)));
  auto refused = user_->append("INBOX", std::move(batch), QuotaLimits{std::nullopt, 2});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::OverQuota);
  EXPECT_EQ(kept().messages, 2u);
  expectExact();
}

TEST_F(QuotaTest, CopyOverTheLimitIsRefusedButMoveAndExpungeStillWork) {
  // Over the limit already (as a POP pull may leave the user: it is never blocked).
  const std::uint64_t a = add("INBOX", 1000, kDeleted);
  const std::uint64_t b = add("INBOX", 1000);
  const QuotaLimits limits{a, 1};
  const std::vector<std::uint32_t> both{1, 2};
  auto copied = user_->transfer(inbox_, both, "Archive", TransferMode::Copy, limits);
  ASSERT_FALSE(copied.has_value());
  EXPECT_EQ(copied.error().code, ErrorCode::OverQuota);
  EXPECT_EQ(user_->mailbox("Archive").value().messages, 0u);
  EXPECT_EQ(user_->mailbox("Archive").value().uidnext, 1u);
  EXPECT_EQ(kept(), (QuotaUsage{a + b, 2}));
  // A move does not raise the usage: allowed even over the limit.
  auto moved = user_->transfer(inbox_, both, "Archive", TransferMode::Move, limits);
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  EXPECT_EQ(kept(), (QuotaUsage{a + b, 2}));
  ASSERT_TRUE(user_->expunge(user_->mailbox("Archive").value().id, std::nullopt));
  EXPECT_EQ(kept(), (QuotaUsage{b, 1}));
  // Now a copy of one more message is over the message limit.
  const std::vector<std::uint32_t> second{2};
  auto again = user_->transfer(user_->mailbox("Archive").value().id, second, "INBOX",
                               TransferMode::Copy, limits);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::OverQuota);
  expectExact();
}

TEST_F(QuotaTest, MigrationFromVersionFourCountsWhatIsThere) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  add("INBOX", 100);
  add("Work", 2000);
  const std::vector<std::uint32_t> one{1};
  ASSERT_TRUE(user_->transfer(inbox_, one, "Work", TransferMode::Copy));
  const QuotaUsage expected = recount();
  close();
  // What version 4 left on disk: no usage table, no triggers.
  sqlExec(userDir(),
          "DROP TRIGGER quota_usage_insert; DROP TRIGGER quota_usage_delete; "
          "DROP TRIGGER quota_usage_update; DROP TABLE quota_usage; PRAGMA user_version = 4;");
  open();
  EXPECT_EQ(kept(), expected);
  add("INBOX", 50);
  expectExact();
}

TEST_F(QuotaTest, CheckReportsAMismatch) {
  add("INBOX", 100);
  sqlExec(userDir(), "UPDATE quota_usage SET bytes = bytes + 7");
  auto report = user_->check().value();
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("quota usage"), std::string::npos) << report.problems[0];
  EXPECT_NE(report.problems[0].find("recount"), std::string::npos) << report.problems[0];
}

// Random appends, copies, moves, flag changes, expunges, mailbox creations, renames (INBOX too)
// and deletions, some under a limit that refuses them; after each the kept usage equals a
// recount.
TEST_F(QuotaTest, RandomWritesKeepTheUsageExact) {
  std::mt19937 rng(20260101);
  std::vector<std::string> boxes{"INBOX"};
  int made = 0;
  int refused = 0;
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  for (int step = 0; step < 150; ++step) {
    const std::string box = boxes[pick(boxes.size())];
    const auto id = user_->mailbox(box).value().id;
    auto uids = [&] {
      std::vector<std::uint32_t> out;
      const auto messages = user_->listMessages(id).value();
      for (const auto& m : messages) {
        if (pick(2) == 0) out.push_back(m.uid);
      }
      return out;
    };
    const QuotaUsage now = kept();
    const QuotaLimits limits =
        pick(4) == 0 ? QuotaLimits{now.bytes + 600, now.messages + 2} : QuotaLimits{};
    switch (pick(8)) {
      case 0:
      case 1: {
        std::vector<NewMessage> batch;
        const std::size_t n = 1 + pick(3);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(
              newMessage(*user_, makeMessage("r" + std::to_string(serial_++), pick(700)),
                         Flags{pick(3) == 0 ? static_cast<std::uint32_t>(kDeleted) : 0u, {}}));
        }
        auto done = user_->append(box, std::move(batch), limits);
        if (!done) {
          EXPECT_EQ(done.error().code, ErrorCode::OverQuota);
          ++refused;
        }
        break;
      }
      case 2:
      case 3: {
        const auto mode = pick(2) == 0 ? TransferMode::Copy : TransferMode::Move;
        auto done = user_->transfer(id, uids(), boxes[pick(boxes.size())], mode, limits);
        if (!done) {
          EXPECT_EQ(done.error().code, ErrorCode::OverQuota);
          ++refused;
        }
        break;
      }
      case 4: {
        const auto some = uids();
        ASSERT_TRUE(user_->storeFlags(id, some, FlagOp::Add, Flags{kDeleted, {}}));
        ASSERT_TRUE(user_->expunge(id, pick(2) == 0 ? std::nullopt : std::optional(some)));
        break;
      }
      case 5:
        if (boxes.size() < 6) {
          boxes.push_back("B" + std::to_string(made++));
          ASSERT_TRUE(user_->createMailbox(boxes.back()));
        }
        break;
      case 6:
        if (box == "INBOX" || pick(2) == 0) {
          const std::string to = "R" + std::to_string(made++);
          ASSERT_TRUE(user_->renameMailbox(box, to));
          if (box != "INBOX") std::erase(boxes, box);
          boxes.push_back(to);
        }
        break;
      case 7:
        if (box != "INBOX") {
          ASSERT_TRUE(user_->deleteMailbox(box));
          std::erase(boxes, box);
        }
        break;
    }
    const QuotaUsage after = kept();
    ASSERT_EQ(after, recount()) << "step " << step;
    if (limits.bytes) {
      EXPECT_TRUE(after.bytes <= *limits.bytes || after.bytes <= now.bytes) << "step " << step;
      EXPECT_TRUE(after.messages <= *limits.messages || after.messages <= now.messages);
    }
  }
  EXPECT_GT(kept().messages, 0u);
  EXPECT_GT(refused, 0);
  expectExact();
}

}  // namespace
}  // namespace popbridge::store
