#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::readBody;
using testing::TempDir;

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Store::open(dir_.path()).value();
    user_ = store_->user("alice").value();
    inbox_ = user_->mailbox("INBOX").value();
    archive_ = user_->createMailbox("Store").value();
    std::vector<NewMessage> batch;
    for (int i = 0; i < 4; ++i) {
      contents_.push_back(makeMessage("t" + std::to_string(i), 300));
      batch.push_back(newMessage(*user_, contents_.back(), Flags{kSeen, {"K" + std::to_string(i)}},
                                 LedgerKey{"acct", "u" + std::to_string(i)}));
      batch.back().internaldate = 1600000000 + i;
    }
    ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<UserStore> user_;
  MailboxInfo inbox_{};
  MailboxInfo archive_{};
  std::vector<std::string> contents_;
};

TEST_F(TransferTest, CopyKeepsSourceAndSharesBodies) {
  const std::vector<std::uint32_t> uids{3, 1, 99};
  auto result = user_->transfer(inbox_.id, uids, "Store", TransferMode::Copy);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->source_uids, (std::vector<std::uint32_t>{1, 3}));
  ASSERT_EQ(result->destination.appended.size(), 2u);
  EXPECT_EQ(result->destination.appended[0].uid, 1u);
  EXPECT_EQ(result->destination.appended[1].uid, 2u);
  EXPECT_EQ(result->destination.appended[0].flags, (Flags{kSeen, {"K0"}}));
  EXPECT_EQ(result->destination.appended[1].internaldate, 1600000002);
  EXPECT_TRUE(result->source.expunged.empty());
  EXPECT_EQ(user_->mailbox("INBOX").value().messages, 4u);
  EXPECT_EQ(readBody(*user_, archive_.id, 2), contents_[2]);
  // Shared bodies: still four files; expunging the source copy keeps the archive's body.
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 4u);
  const std::vector<std::uint32_t> three{3};
  ASSERT_TRUE(user_->storeFlags(inbox_.id, three, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_.id, std::nullopt));
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 4u);
  EXPECT_EQ(readBody(*user_, archive_.id, 2), contents_[2]);
  // Flags of the copy are independent of the source.
  const std::vector<std::uint32_t> one{1};
  ASSERT_TRUE(user_->storeFlags(archive_.id, one, FlagOp::Replace, Flags{}));
  EXPECT_EQ(user_->listMessages(inbox_.id).value()[0].flags, (Flags{kSeen, {"K0"}}));
  // The ledger still points at the original.
  EXPECT_EQ(user_->ledger("acct").value()[0].mailbox, "INBOX");
  EXPECT_TRUE(store_->check("alice").value().problems.empty());
}

TEST_F(TransferTest, MoveExpungesSourceAndLedgerFollows) {
  const std::vector<std::uint32_t> uids{2, 4};
  auto result = user_->transfer(inbox_.id, uids, "archive", TransferMode::Move);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::NotFound);

  const auto before = user_->mailbox("INBOX").value().highestmodseq;
  result = user_->transfer(inbox_.id, uids, "Store", TransferMode::Move);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->source.expunged, (std::vector<std::uint32_t>{2, 4}));
  EXPECT_EQ(result->source.highestmodseq, before + 1);
  EXPECT_EQ(user_->expungedSince(inbox_.id, before).value(), (std::vector<std::uint32_t>{2, 4}));
  auto inbox = user_->listMessages(inbox_.id).value();
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].uid, 1u);
  EXPECT_EQ(inbox[1].uid, 3u);
  auto archive = user_->listMessages(archive_.id).value();
  ASSERT_EQ(archive.size(), 2u);
  EXPECT_EQ(readBody(*user_, archive_.id, 1), contents_[1]);
  EXPECT_EQ(readBody(*user_, archive_.id, 2), contents_[3]);
  const auto rows = user_->ledger("acct").value();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].uidl, "u1");
  EXPECT_EQ(rows[1].mailbox, "Store");
  EXPECT_EQ(rows[1].uid, 1u);
  EXPECT_EQ(rows[0].mailbox, "INBOX");
  EXPECT_EQ(rows[0].uid, 1u);
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 4u);
  auto report = store_->check("alice").value();
  EXPECT_TRUE(report.problems.empty());
  EXPECT_TRUE(report.orphans.empty());
}

TEST_F(TransferTest, RenameKeepsUidValidityAndMovesInferiors) {
  ASSERT_TRUE(user_->createMailbox("Store/2023"));
  ASSERT_TRUE(user_->createMailbox("Stored"));
  const auto child = user_->mailbox("Store/2023").value();
  auto renamed = user_->renameMailbox("Store", "Old");
  ASSERT_TRUE(renamed.has_value()) << renamed.error().message;
  EXPECT_EQ(renamed->id, archive_.id);
  EXPECT_EQ(renamed->uidvalidity, archive_.uidvalidity);
  EXPECT_EQ(user_->mailbox("Old/2023").value().id, child.id);
  EXPECT_EQ(user_->mailbox("Stored").value().name, "Stored");  // not an inferior
  EXPECT_EQ(user_->mailbox("Store").error().code, ErrorCode::NotFound);
  EXPECT_EQ(user_->renameMailbox("Old", "Stored").error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(user_->renameMailbox("Old", "Old/x").error().code, ErrorCode::InvalidName);
  EXPECT_EQ(user_->renameMailbox("Nope", "Y").error().code, ErrorCode::NotFound);
}

TEST_F(TransferTest, RenameInboxMovesMessages) {
  auto renamed = user_->renameMailbox("inbox", "Saved");
  ASSERT_TRUE(renamed.has_value()) << renamed.error().message;
  EXPECT_EQ(renamed->messages, 4u);
  auto inbox = user_->mailbox("INBOX").value();
  EXPECT_EQ(inbox.id, inbox_.id);
  EXPECT_EQ(inbox.messages, 0u);
  EXPECT_EQ(inbox.uidnext, 5u);
  EXPECT_EQ(readBody(*user_, renamed->id, 4), contents_[3]);
  EXPECT_EQ(user_->ledger("acct").value()[0].mailbox, "Saved");
}

}  // namespace
}  // namespace popbridge::store
