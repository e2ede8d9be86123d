#include "store/user_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::readBody;
using testing::TempDir;

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    auto user = store_->user("alice");
    ASSERT_TRUE(user.has_value()) << user.error().message;
    user_ = *user;
    inbox_ = user_->mailbox("INBOX").value();
  }

  // Appends `count` messages to INBOX; returns their uids.
  std::vector<std::uint32_t> appendMessages(int count, Flags flags = {}) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < count; ++i) {
      batch.push_back(newMessage(*user_, makeMessage("m" + std::to_string(next_++), 100), flags));
    }
    auto changes = user_->append("INBOX", std::move(batch));
    EXPECT_TRUE(changes.has_value()) << changes.error().message;
    std::vector<std::uint32_t> uids;
    for (const auto& m : changes->appended) uids.push_back(m.uid);
    return uids;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<UserStore> user_;
  MailboxInfo inbox_{};
  int next_ = 0;
};

TEST_F(UserStoreTest, InboxExistsOnFirstOpen) {
  auto boxes = user_->listMailboxes().value();
  ASSERT_EQ(boxes.size(), 6u);
  EXPECT_EQ(boxes[2].name, "INBOX");
  EXPECT_EQ(boxes[2].uidnext, 1u);
  EXPECT_EQ(boxes[2].messages, 0u);
  EXPECT_GE(boxes[2].highestmodseq, 1u);
  EXPECT_GT(boxes[2].uidvalidity, 0u);
  EXPECT_EQ(boxes[2].special_use, 0u);
  EXPECT_EQ(user_->mailbox("inbox").value().id, boxes[2].id);
}

TEST_F(UserStoreTest, NewUserHasSubscribedSpecialUseMailboxes) {
  std::vector<std::pair<std::string, std::uint32_t>> boxes;
  std::set<std::uint32_t> validities;
  const auto all = user_->listMailboxes().value();
  for (const auto& box : all) {
    boxes.emplace_back(box.name, box.special_use);
    validities.insert(box.uidvalidity);
  }
  EXPECT_EQ(boxes, (std::vector<std::pair<std::string, std::uint32_t>>{{"Archive", kUseArchive},
                                                                       {"Drafts", kUseDrafts},
                                                                       {"INBOX", 0},
                                                                       {"Junk", kUseJunk},
                                                                       {"Sent", kUseSent},
                                                                       {"Trash", kUseTrash}}));
  EXPECT_EQ(validities.size(), 6u);  // each its own UIDVALIDITY
  EXPECT_EQ(user_->subscriptions().value(),
            (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}));
  // Opening again creates nothing more.
  store_.reset();
  user_.reset();
  store_ = Store::open(dir_.path()).value();
  user_ = store_->user("alice").value();
  EXPECT_EQ(user_->listMailboxes().value().size(), 6u);
}

TEST_F(UserStoreTest, SubscriptionsAreNamesThatOutliveMailboxes) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  ASSERT_TRUE(user_->createMailbox("Work/Old"));
  ASSERT_TRUE(user_->subscribe("Work"));
  ASSERT_TRUE(user_->subscribe("Work"));  // twice is once
  ASSERT_TRUE(user_->subscribe("Work/Old"));
  ASSERT_TRUE(user_->subscribe("Elsewhere/Nothing"));  // RFC 3501 6.3.6: need not exist
  ASSERT_TRUE(user_->subscribe("inbox"));              // canonical spelling
  EXPECT_EQ(user_->subscribe("a//b").error().code, ErrorCode::InvalidName);
  ASSERT_TRUE(user_->unsubscribe("Trash"));
  EXPECT_TRUE(user_->unsubscribe("Trash"));  // twice is once
  EXPECT_EQ(user_->unsubscribe("a//b").error().code, ErrorCode::InvalidName);
  // DELETE and RENAME leave subscriptions alone (RFC 9051 6.3.4).
  ASSERT_TRUE(user_->deleteMailbox("Work/Old"));
  ASSERT_TRUE(user_->renameMailbox("Work", "Job"));
  EXPECT_EQ(user_->subscriptions().value(),
            (std::vector<std::string>{"Archive", "Drafts", "Elsewhere/Nothing", "INBOX", "Junk",
                                      "Sent", "Work", "Work/Old"}));
  EXPECT_EQ(user_->mailbox("Job").value().special_use, 0u);
}

TEST_F(UserStoreTest, CreateWithSpecialUse) {
  auto box = user_->createMailbox("Entw\xC3\xBCrfe", kUseDrafts).value();
  EXPECT_EQ(box.special_use, kUseDrafts);
  EXPECT_EQ(user_->mailbox("Entw\xC3\xBCrfe").value().special_use, kUseDrafts);
  EXPECT_EQ(user_->createMailbox("All", kUseAll).error().code, ErrorCode::InvalidName);
  EXPECT_EQ(user_->createMailbox("Flagged", kUseFlagged).error().code, ErrorCode::InvalidName);
  EXPECT_EQ(user_->mailbox("All").error().code, ErrorCode::NotFound);
  // The attribute goes with the mailbox through a RENAME.
  ASSERT_TRUE(user_->renameMailbox("Sent", "Sent Items"));
  EXPECT_EQ(user_->mailbox("Sent Items").value().special_use, kUseSent);
}

TEST_F(UserStoreTest, SameUserSameObject) {
  EXPECT_EQ(store_->user("alice").value().get(), user_.get());
  EXPECT_NE(store_->user("bob").value().get(), user_.get());
  EXPECT_EQ(store_->user("../x").error().code, ErrorCode::InvalidName);
  EXPECT_EQ(store_->user("").error().code, ErrorCode::InvalidName);
}

TEST_F(UserStoreTest, AppendSingle) {
  const std::string content = "Subject: hello\r\nFrom: x@y\r\n\r\nHi there\r\n";
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, content, Flags{kSeen, {"$Forwarded"}}));
  batch.back().internaldate = 1234567890;
  batch.back().tz_offset_minutes = -300;
  auto changes = user_->append("inbox", std::move(batch));
  ASSERT_TRUE(changes.has_value()) << changes.error().message;
  EXPECT_EQ(changes->mailbox, "INBOX");
  EXPECT_EQ(changes->mailbox_id, inbox_.id);
  ASSERT_EQ(changes->appended.size(), 1u);
  const MessageInfo& m = changes->appended[0];
  EXPECT_EQ(m.uid, 1u);
  EXPECT_EQ(m.size, content.size());
  EXPECT_EQ(m.header_size, 29u);
  EXPECT_EQ(m.internaldate, 1234567890);
  EXPECT_EQ(m.tz_offset_minutes, -300);
  EXPECT_EQ(m.flags, (Flags{kSeen, {"$Forwarded"}}));
  EXPECT_EQ(m.modseq, inbox_.highestmodseq + 1);
  EXPECT_EQ(changes->highestmodseq, m.modseq);

  auto listed = user_->listMessages(inbox_.id).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].uid, m.uid);
  EXPECT_EQ(listed[0].flags, m.flags);
  EXPECT_EQ(listed[0].size, m.size);
  EXPECT_EQ(listed[0].header_size, m.header_size);
  EXPECT_EQ(listed[0].internaldate, m.internaldate);
  EXPECT_EQ(listed[0].tz_offset_minutes, m.tz_offset_minutes);
  EXPECT_EQ(listed[0].modseq, m.modseq);
  EXPECT_EQ(readBody(*user_, inbox_.id, 1), content);

  auto info = user_->mailbox("INBOX").value();
  EXPECT_EQ(info.uidnext, 2u);
  EXPECT_EQ(info.messages, 1u);
  EXPECT_EQ(info.unseen, 0u);
  EXPECT_EQ(info.total_bytes, content.size());
  EXPECT_EQ(info.highestmodseq, m.modseq);
  EXPECT_EQ(testing::countFiles(user_->directory() / "tmp"), 0u);
}

TEST_F(UserStoreTest, AppendBatchesUidsAscend) {
  std::vector<std::string> contents;
  std::vector<NewMessage> batch;
  for (int i = 0; i < 20; ++i) {
    contents.push_back(makeMessage("batch" + std::to_string(i), static_cast<std::size_t>(i) * 977));
    batch.push_back(newMessage(*user_, contents.back()));
  }
  auto first = user_->append("INBOX", std::move(batch)).value();
  ASSERT_EQ(first.appended.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(first.appended[i].uid, i + 1);
    EXPECT_EQ(first.appended[i].modseq, first.highestmodseq);
  }
  batch.clear();
  for (int i = 20; i < 25; ++i) {
    contents.push_back(makeMessage("batch" + std::to_string(i), 10));
    batch.push_back(newMessage(*user_, contents.back()));
  }
  auto second = user_->append("INBOX", std::move(batch)).value();
  ASSERT_EQ(second.appended.size(), 5u);
  EXPECT_EQ(second.appended.front().uid, 21u);
  EXPECT_GT(second.highestmodseq, first.highestmodseq);

  auto info = user_->mailbox("INBOX").value();
  EXPECT_EQ(info.messages, 25u);
  EXPECT_EQ(info.unseen, 25u);
  EXPECT_EQ(info.uidnext, 26u);
  std::uint64_t total = 0;
  for (const auto& c : contents) total += c.size();
  EXPECT_EQ(info.total_bytes, total);

  auto listed = user_->listMessages(inbox_.id).value();
  ASSERT_EQ(listed.size(), 25u);
  for (std::size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(listed[i].uid, i + 1);
    EXPECT_EQ(listed[i].size, contents[i].size());
    EXPECT_EQ(listed[i].header_size, contents[i].find("\r\n\r\n") + 4);
    EXPECT_EQ(readBody(*user_, inbox_.id, listed[i].uid, 333), contents[i]);
  }
}

TEST_F(UserStoreTest, RangedReads) {
  const std::string content = makeMessage("ranges", 10000);
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, content));
  const auto uid = user_->append("INBOX", std::move(batch)).value().appended[0].uid;
  auto reader = user_->openBody(inbox_.id, uid).value();
  EXPECT_EQ(reader.size(), content.size());
  std::vector<char> buffer(4096);
  for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4095},
                               std::uint64_t{9000}, std::uint64_t{content.size() - 1}}) {
    auto got = reader.read(offset, buffer).value();
    const std::size_t expected =
        std::min<std::size_t>(buffer.size(), content.size() - static_cast<std::size_t>(offset));
    ASSERT_EQ(got, expected) << offset;
    EXPECT_EQ(std::string(buffer.data(), got),
              content.substr(static_cast<std::size_t>(offset), expected));
  }
  EXPECT_EQ(reader.read(content.size(), buffer).value(), 0u);
  EXPECT_EQ(reader.read(content.size() + 100, buffer).value(), 0u);
  EXPECT_EQ(reader.read(0, std::span<char>()).value(), 0u);
}

TEST_F(UserStoreTest, AppendToMissingMailboxCreatesNothing) {
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, "Subject: x\r\n\r\n"));
  auto result = user_->append("Nope", std::move(batch));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::NotFound);
  EXPECT_EQ(user_->listMailboxes().value().size(), 6u);
  EXPECT_EQ(testing::countFiles(user_->directory() / "tmp"), 0u);
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 0u);
  EXPECT_EQ(user_->append("../x", {}).error().code, ErrorCode::InvalidName);
}

TEST_F(UserStoreTest, AppendRefusesBadKeyword) {
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, "Subject: x\r\n\r\n", Flags{0, {"bad word"}}));
  EXPECT_EQ(user_->append("INBOX", std::move(batch)).error().code, ErrorCode::InvalidName);
  EXPECT_EQ(user_->mailbox("INBOX").value().messages, 0u);
}

TEST_F(UserStoreTest, AppendRefusesMessageOfAnotherUser) {
  auto bob = store_->user("bob").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*bob, "Subject: x\r\n\r\n"));
  EXPECT_EQ(user_->append("INBOX", std::move(batch)).error().code, ErrorCode::Internal);
}

TEST_F(UserStoreTest, Mailboxes) {
  auto work = user_->createMailbox("Work").value();
  EXPECT_EQ(work.name, "Work");
  EXPECT_EQ(work.uidnext, 1u);
  EXPECT_GT(work.uidvalidity, inbox_.uidvalidity);
  auto sub = user_->createMailbox("Work/Projects").value();
  EXPECT_GT(sub.uidvalidity, work.uidvalidity);
  EXPECT_EQ(user_->createMailbox("Work").error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(user_->createMailbox("INBOX").error().code, ErrorCode::AlreadyExists);
  EXPECT_EQ(user_->createMailbox("iNbOx").error().code, ErrorCode::AlreadyExists);
  EXPECT_TRUE(user_->createMailbox("work").has_value());  // other names are case-sensitive
  for (std::string bad : {"../x", "a/../b", "", "x\x01y", "a//b"}) {
    EXPECT_EQ(user_->createMailbox(bad).error().code, ErrorCode::InvalidName) << bad;
    EXPECT_EQ(user_->mailbox(bad).error().code, ErrorCode::InvalidName) << bad;
  }
  EXPECT_EQ(user_->mailbox("Missing").error().code, ErrorCode::NotFound);
  EXPECT_EQ(user_->mailboxById(work.id).value().name, "Work");
  EXPECT_EQ(user_->mailboxById(99999).error().code, ErrorCode::NotFound);
  std::vector<std::string> names;
  const auto boxes = user_->listMailboxes().value();
  for (const auto& box : boxes) names.push_back(box.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash",
                                             "Work", "Work/Projects", "work"}));
}

TEST_F(UserStoreTest, DeleteMailboxAndRecreateGetsNewUidValidity) {
  auto first = user_->createMailbox("Old").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("old", 50)));
  ASSERT_TRUE(user_->append("Old", std::move(batch)).has_value());
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 1u);
  ASSERT_TRUE(user_->deleteMailbox("Old").has_value());
  EXPECT_EQ(testing::countFiles(user_->directory() / "blobs"), 0u);
  EXPECT_EQ(user_->mailbox("Old").error().code, ErrorCode::NotFound);
  EXPECT_EQ(user_->listMessages(first.id).error().code, ErrorCode::NotFound);
  auto second = user_->createMailbox("Old").value();
  EXPECT_GT(second.uidvalidity, first.uidvalidity);
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.uidnext, 1u);
  EXPECT_EQ(user_->deleteMailbox("inbox").error().code, ErrorCode::InvalidName);
  EXPECT_EQ(user_->deleteMailbox("Missing").error().code, ErrorCode::NotFound);
}

TEST_F(UserStoreTest, FlagsAddRemoveReplace) {
  auto uids = appendMessages(3);
  const auto base = user_->mailbox("INBOX").value().highestmodseq;

  const std::vector<std::uint32_t> first_two{uids[0], uids[1]};
  auto added = user_->storeFlags(inbox_.id, first_two, FlagOp::Add,
                                 Flags{kSeen | kFlagged, {"$Forwarded", "Work"}});
  ASSERT_TRUE(added.has_value()) << added.error().message;
  ASSERT_EQ(added->flag_changes.size(), 2u);
  EXPECT_EQ(added->highestmodseq, base + 1);
  for (const auto& m : added->flag_changes) {
    EXPECT_EQ(m.flags, (Flags{kSeen | kFlagged, {"$Forwarded", "Work"}}));
    EXPECT_EQ(m.modseq, base + 1);
  }
  EXPECT_EQ(added->flag_changes[0].uid, uids[0]);
  EXPECT_EQ(added->flag_changes[1].uid, uids[1]);
  EXPECT_EQ(user_->mailbox("INBOX").value().unseen, 1u);

  // Adding what is already there changes nothing and bumps nothing.
  auto again = user_->storeFlags(inbox_.id, first_two, FlagOp::Add, Flags{kSeen, {"work"}});
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->flag_changes.empty());
  EXPECT_EQ(again->highestmodseq, base + 1);
  EXPECT_EQ(user_->mailbox("INBOX").value().highestmodseq, base + 1);

  // Only the message that really changes is reported; keyword removal ignores case.
  const std::vector<std::uint32_t> all{uids[2], uids[1], uids[0], 999};
  auto removed = user_->storeFlags(inbox_.id, all, FlagOp::Remove, Flags{kFlagged, {"WORK"}});
  ASSERT_TRUE(removed.has_value());
  ASSERT_EQ(removed->flag_changes.size(), 2u);
  EXPECT_EQ(removed->flag_changes[0].uid, uids[0]);
  EXPECT_EQ(removed->flag_changes[0].flags, (Flags{kSeen, {"$Forwarded"}}));
  EXPECT_EQ(removed->flag_changes[0].modseq, base + 2);
  EXPECT_EQ(removed->highestmodseq, base + 2);

  const std::vector<std::uint32_t> last{uids[2]};
  auto replaced = user_->storeFlags(inbox_.id, last, FlagOp::Replace,
                                    Flags{kAnswered | kDraft, {"b", "A", "a", "$x"}});
  ASSERT_TRUE(replaced.has_value());
  ASSERT_EQ(replaced->flag_changes.size(), 1u);
  EXPECT_EQ(replaced->flag_changes[0].flags, (Flags{kAnswered | kDraft, {"$x", "A", "b"}}));

  auto listed = user_->listMessages(inbox_.id).value();
  EXPECT_EQ(listed[0].flags, (Flags{kSeen, {"$Forwarded"}}));
  EXPECT_EQ(listed[0].modseq, base + 2);
  EXPECT_EQ(listed[1].flags, (Flags{kSeen, {"$Forwarded"}}));
  EXPECT_EQ(listed[2].flags, (Flags{kAnswered | kDraft, {"$x", "A", "b"}}));
  EXPECT_EQ(listed[2].modseq, base + 3);
  EXPECT_EQ(user_->mailbox("INBOX").value().highestmodseq, base + 3);

  EXPECT_EQ(user_->storeFlags(inbox_.id, last, FlagOp::Add, Flags{0, {"\\Seen"}}).error().code,
            ErrorCode::InvalidName);
  EXPECT_EQ(user_->storeFlags(inbox_.id, last, FlagOp::Add, Flags{64, {}}).error().code,
            ErrorCode::InvalidName);
  EXPECT_EQ(user_->storeFlags(12345, last, FlagOp::Add, Flags{kSeen, {}}).error().code,
            ErrorCode::NotFound);
}

// RFC 7162 3.1.3: a message changed since UNCHANGEDSINCE is left alone and reported.
TEST_F(UserStoreTest, ConditionalStoreSkipsMessagesChangedSince) {
  auto uids = appendMessages(3);
  const auto base = user_->mailbox("INBOX").value().highestmodseq;
  const std::vector<std::uint32_t> second{uids[1]};
  ASSERT_TRUE(user_->storeFlags(inbox_.id, second, FlagOp::Add, Flags{kFlagged, {}}));

  const std::vector<std::uint32_t> all{uids[0], uids[1], uids[2], 999};
  auto done = user_->storeFlagsIf(inbox_.id, all, FlagOp::Add, Flags{kSeen, {}}, base);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(done->modified, (std::vector<std::uint32_t>{uids[1]}));
  ASSERT_EQ(done->changes.flag_changes.size(), 2u);
  EXPECT_EQ(done->changes.flag_changes[0].uid, uids[0]);
  EXPECT_EQ(done->changes.flag_changes[1].uid, uids[2]);
  EXPECT_EQ(done->changes.flag_changes[0].modseq, base + 2);
  EXPECT_EQ(done->changes.highestmodseq, base + 2);
  auto listed = user_->listMessages(inbox_.id).value();
  EXPECT_EQ(listed[1].flags, (Flags{kFlagged, {}}));
  EXPECT_EQ(listed[1].modseq, base + 1);

  // Every message has a modseq of at least 1, so UNCHANGEDSINCE 0 always fails.
  auto zero = user_->storeFlagsIf(inbox_.id, all, FlagOp::Remove, Flags{kSeen, {}}, 0);
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->modified, (std::vector<std::uint32_t>{uids[0], uids[1], uids[2]}));
  EXPECT_TRUE(zero->changes.flag_changes.empty());
  EXPECT_EQ(user_->mailbox("INBOX").value().highestmodseq, base + 2);

  // A test that passes for all leaves the plain storeFlags() behaviour.
  auto high = user_->storeFlagsIf(inbox_.id, all, FlagOp::Remove, Flags{kSeen, {}}, base + 2);
  ASSERT_TRUE(high.has_value());
  EXPECT_TRUE(high->modified.empty());
  EXPECT_EQ(high->changes.flag_changes.size(), 2u);
}

TEST_F(UserStoreTest, ExpungeOnlyDeletedAndNeverReuseUids) {
  auto uids = appendMessages(4);
  const auto blobs = user_->directory() / "blobs";
  EXPECT_EQ(testing::countFiles(blobs), 4u);
  const std::vector<std::uint32_t> marked{uids[1], uids[2], uids[3]};
  ASSERT_TRUE(user_->storeFlags(inbox_.id, marked, FlagOp::Add, Flags{kDeleted, {}}));
  const auto before = user_->mailbox("INBOX").value().highestmodseq;

  // UID EXPUNGE of uids 1 and 2: only 2 carries \Deleted.
  auto some = user_->expunge(inbox_.id, std::vector<std::uint32_t>{uids[0], uids[1]});
  ASSERT_TRUE(some.has_value()) << some.error().message;
  EXPECT_EQ(some->expunged, (std::vector<std::uint32_t>{uids[1]}));
  EXPECT_EQ(some->highestmodseq, before + 1);
  EXPECT_EQ(testing::countFiles(blobs), 3u);

  auto rest = user_->expunge(inbox_.id, std::nullopt).value();
  EXPECT_EQ(rest.expunged, (std::vector<std::uint32_t>{uids[2], uids[3]}));
  EXPECT_EQ(rest.highestmodseq, before + 2);
  EXPECT_EQ(testing::countFiles(blobs), 1u);

  auto nothing = user_->expunge(inbox_.id, std::nullopt).value();
  EXPECT_TRUE(nothing.expunged.empty());
  EXPECT_EQ(nothing.highestmodseq, before + 2);

  auto listed = user_->listMessages(inbox_.id).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].uid, uids[0]);
  EXPECT_EQ(user_->openBody(inbox_.id, uids[1]).error().code, ErrorCode::NotFound);

  EXPECT_EQ(user_->expungedSince(inbox_.id, before).value(),
            (std::vector<std::uint32_t>{uids[1], uids[2], uids[3]}));
  EXPECT_EQ(user_->expungedSince(inbox_.id, before + 1).value(),
            (std::vector<std::uint32_t>{uids[2], uids[3]}));
  EXPECT_TRUE(user_->expungedSince(inbox_.id, before + 2).value().empty());

  // UIDNEXT survives the expunge: the next message gets a fresh uid.
  auto next = appendMessages(1);
  EXPECT_EQ(next[0], uids[3] + 1);
  EXPECT_EQ(user_->mailbox("INBOX").value().uidnext, uids[3] + 2);
}

TEST_F(UserStoreTest, ReaderSurvivesExpunge) {
  const std::string content = makeMessage("keep-reading", 5000);
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, content, Flags{kDeleted, {}}));
  const auto uid = user_->append("INBOX", std::move(batch)).value().appended[0].uid;
  auto reader = user_->openBody(inbox_.id, uid).value();
  ASSERT_EQ(user_->expunge(inbox_.id, std::nullopt).value().expunged.size(), 1u);
  std::string out(content.size(), '\0');
  EXPECT_EQ(reader.read(0, out).value(), content.size());
  EXPECT_EQ(out, content);
}

TEST_F(UserStoreTest, LedgerCommittedWithAppend) {
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("p1", 10), {}, LedgerKey{"acct", "uidl-1"}));
  batch.push_back(newMessage(*user_, makeMessage("p2", 10), {}));
  batch.push_back(newMessage(*user_, makeMessage("p3", 10), {},
                             LedgerKey{"acct", "uidl-3", LedgerState::DeletePending}));
  batch.push_back(newMessage(*user_, makeMessage("p4", 10), {}, LedgerKey{"other", "uidl-1"}));
  auto changes = user_->append("INBOX", std::move(batch)).value();

  auto rows = user_->ledger("acct").value();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].uidl, "uidl-1");
  EXPECT_EQ(rows[0].state, LedgerState::Stored);
  EXPECT_EQ(rows[0].mailbox, "INBOX");
  EXPECT_EQ(rows[0].uid, changes.appended[0].uid);
  EXPECT_GT(rows[0].first_seen, 1600000000);
  EXPECT_EQ(rows[1].uidl, "uidl-3");
  EXPECT_EQ(rows[1].state, LedgerState::DeletePending);
  EXPECT_EQ(rows[1].uid, changes.appended[2].uid);
  ASSERT_EQ(user_->ledger("other").value().size(), 1u);
  EXPECT_EQ(user_->ledger("other").value()[0].uid, changes.appended[3].uid);
  EXPECT_TRUE(user_->ledger("nobody").value().empty());

  const std::vector<std::string> both{"uidl-1", "uidl-3"};
  ASSERT_TRUE(user_->setLedgerState("acct", both, LedgerState::DeletePending));
  rows = user_->ledger("acct").value();
  EXPECT_EQ(rows[0].state, LedgerState::DeletePending);
  EXPECT_EQ(rows[1].state, LedgerState::DeletePending);
  // The other account's row with the same uidl is untouched.
  EXPECT_EQ(user_->ledger("other").value()[0].state, LedgerState::Stored);

  // An unknown uidl changes nothing at all.
  const std::vector<std::string> with_unknown{"uidl-1", "missing"};
  EXPECT_EQ(user_->setLedgerState("acct", with_unknown, LedgerState::Deleted).error().code,
            ErrorCode::NotFound);
  EXPECT_EQ(user_->ledger("acct").value()[0].state, LedgerState::DeletePending);

  // Expunging the message keeps the row, with uid 0.
  const std::vector<std::uint32_t> first{changes.appended[0].uid};
  ASSERT_TRUE(user_->storeFlags(inbox_.id, first, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_.id, std::nullopt));
  rows = user_->ledger("acct").value();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].uidl, "uidl-1");
  EXPECT_EQ(rows[0].uid, 0u);
  EXPECT_EQ(rows[1].uid, changes.appended[2].uid);
}

TEST_F(UserStoreTest, LedgerSurvivesMailboxDeletion) {
  ASSERT_TRUE(user_->createMailbox("Pulled"));
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("p", 10), {}, LedgerKey{"acct", "u1"}));
  ASSERT_TRUE(user_->append("Pulled", std::move(batch)));
  EXPECT_EQ(user_->ledger("acct").value()[0].mailbox, "Pulled");
  ASSERT_TRUE(user_->deleteMailbox("Pulled"));
  auto rows = user_->ledger("acct").value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].uidl, "u1");
  EXPECT_EQ(rows[0].mailbox, "");
  EXPECT_EQ(rows[0].uid, 0u);
}

TEST_F(UserStoreTest, ReconcileLedgerForgetsUnlistedDeletesOnly) {
  std::vector<NewMessage> batch;
  for (const char* uidl : {"a", "b", "c", "d", "e", "f"}) {
    batch.push_back(newMessage(*user_, makeMessage(uidl, 10), {}, LedgerKey{"acct", uidl}));
  }
  batch.push_back(newMessage(*user_, makeMessage("o", 10), {}, LedgerKey{"other", "a"}));
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  const std::vector<std::string> deleted{"a", "b"};
  ASSERT_TRUE(user_->setLedgerState("acct", deleted, LedgerState::Deleted));
  const std::vector<std::string> pending{"e", "f"};
  ASSERT_TRUE(user_->setLedgerState("acct", pending, LedgerState::DeletePending));
  // The server lists b, c and f. Gone from it: a (Deleted) and e (DeletePending: a QUIT whose
  // +OK was never recorded) are forgotten; d (Stored) stays; listed rows stay whatever state.
  const std::vector<std::string> listed{"b", "c", "f"};
  const auto kept = user_->reconcileLedger("acct", listed).value();
  std::vector<std::string> returned;
  for (const auto& row : kept) returned.push_back(row.uidl);
  std::sort(returned.begin(), returned.end());
  const std::vector<std::string> expected{"b", "c", "d", "f"};
  EXPECT_EQ(returned, expected);
  std::vector<std::string> left;
  const auto rows = user_->ledger("acct").value();
  for (const auto& row : rows) left.push_back(row.uidl);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, expected);
  // Another account's rows are untouched, and a second call with nothing to forget only reads.
  EXPECT_EQ(user_->ledger("other").value().size(), 1u);
  EXPECT_EQ(user_->reconcileLedger("acct", listed).value().size(), expected.size());
}

TEST_F(UserStoreTest, ForgetLedgerRowsKeepsStoredRowsAndOtherAccounts) {
  std::vector<NewMessage> batch;
  for (const char* uidl : {"a", "b", "c"}) {
    batch.push_back(newMessage(*user_, makeMessage(uidl, 10), {}, LedgerKey{"acct", uidl}));
  }
  batch.push_back(newMessage(*user_, makeMessage("o", 10), {}, LedgerKey{"other", "a"}));
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  const std::vector<std::string> deleted{"a", "b"};
  ASSERT_TRUE(user_->setLedgerState("acct", deleted, LedgerState::Deleted));
  ASSERT_TRUE(user_->setLedgerState("other", std::vector<std::string>{"a"}, LedgerState::Deleted));
  // c is Stored: asked to forget it (a row that became Stored after the caller's read), it
  // stays; "zz" has no row.
  const std::vector<std::string> forget{"a", "c", "zz"};
  ASSERT_TRUE(user_->forgetLedgerRows("acct", forget));
  std::vector<std::string> left;
  const auto rows = user_->ledgerRows("acct").value();
  for (const auto& row : rows) left.push_back(row.uidl);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(user_->ledgerRows("other").value().size(), 1u);
  EXPECT_TRUE(user_->forgetLedgerRows("acct", {}));
}

TEST_F(UserStoreTest, ReappendOfLedgerUidlUpdatesRow) {
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("x", 10), {}, LedgerKey{"acct", "same"}));
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  const auto first_seen = user_->ledger("acct").value()[0].first_seen;
  batch.clear();
  batch.push_back(newMessage(*user_, makeMessage("y", 10), {}, LedgerKey{"acct", "same"}));
  auto changes = user_->append("INBOX", std::move(batch)).value();
  auto rows = user_->ledger("acct").value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].uid, changes.appended[0].uid);
  EXPECT_EQ(rows[0].first_seen, first_seen);
}

}  // namespace
}  // namespace popbridge::store
