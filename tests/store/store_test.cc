#include "store/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::readBody;
using testing::TempDir;

std::unique_ptr<Store> openStore(const std::filesystem::path& dir) {
  auto opened = Store::open(dir);
  EXPECT_TRUE(opened.has_value()) << opened.error().message;
  return opened ? std::move(*opened) : nullptr;
}

TEST(Store, AcknowledgedDataSurvivesReopen) {
  TempDir dir;
  std::vector<std::string> contents;
  MailboxInfo inbox_before{};
  MailboxInfo work_before{};
  {
    auto store = openStore(dir.path());
    auto user = store->user("alice").value();
    work_before = user->createMailbox("Work").value();
    std::vector<NewMessage> batch;
    for (int i = 0; i < 5; ++i) {
      contents.push_back(makeMessage("keep" + std::to_string(i), 2000));
      batch.push_back(newMessage(*user, contents.back(), Flags{kSeen, {"Keep"}},
                                 LedgerKey{"acct", "u" + std::to_string(i)}));
    }
    ASSERT_TRUE(user->append("INBOX", std::move(batch)));
    const std::vector<std::uint32_t> one{2};
    ASSERT_TRUE(
        user->storeFlags(user->mailbox("INBOX")->id, one, FlagOp::Add, Flags{kDeleted, {}}));
    ASSERT_TRUE(user->expunge(user->mailbox("INBOX")->id, std::nullopt));
    inbox_before = user->mailbox("INBOX").value();
  }
  auto store = openStore(dir.path());
  auto user = store->user("alice").value();
  auto inbox = user->mailbox("INBOX").value();
  EXPECT_EQ(inbox.id, inbox_before.id);
  EXPECT_EQ(inbox.uidvalidity, inbox_before.uidvalidity);
  EXPECT_EQ(inbox.uidnext, inbox_before.uidnext);
  EXPECT_EQ(inbox.uidnext, 6u);
  EXPECT_EQ(inbox.highestmodseq, inbox_before.highestmodseq);
  EXPECT_EQ(inbox.messages, 4u);
  EXPECT_EQ(user->mailbox("Work").value().uidvalidity, work_before.uidvalidity);
  auto listed = user->listMessages(inbox.id).value();
  ASSERT_EQ(listed.size(), 4u);
  for (const auto& m : listed) {
    EXPECT_EQ(m.flags, (Flags{kSeen, {"Keep"}}));
    EXPECT_EQ(readBody(*user, inbox.id, m.uid), contents[m.uid - 1]);
  }
  EXPECT_EQ(user->ledger("acct").value().size(), 5u);
  EXPECT_EQ(user->expungedSince(inbox.id, 0).value(), (std::vector<std::uint32_t>{2}));
  auto report = store->check("alice").value();
  EXPECT_EQ(report.messages, 4u);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_TRUE(report.orphans.empty());
}

TEST(Store, UidValidityFreshAfterRecreateAcrossReopen) {
  TempDir dir;
  std::uint32_t old_validity = 0;
  {
    auto store = openStore(dir.path());
    auto user = store->user("alice").value();
    old_validity = user->createMailbox("Gone").value().uidvalidity;
    ASSERT_TRUE(user->deleteMailbox("Gone"));
  }
  auto store = openStore(dir.path());
  auto user = store->user("alice").value();
  EXPECT_GT(user->createMailbox("Gone").value().uidvalidity, old_validity);
}

TEST(Store, SecondProcessStyleOpenIsRefused) {
  TempDir dir;
  auto first = openStore(dir.path());
  auto user = first->user("alice").value();
  // A second Store on the same directory behaves like another process: the flock refuses it.
  auto second = openStore(dir.path());
  auto refused = second->user("alice");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::Io);
  EXPECT_TRUE(second->user("bob").has_value());
}

TEST(Store, TmpLeftoversCleanedOnOpen) {
  TempDir dir;
  {
    auto store = openStore(dir.path());
    ASSERT_TRUE(store->user("alice"));
  }
  const auto tmp = dir.path() / "users" / "alice" / "tmp";
  std::ofstream(tmp / "leftover") << "half a message";
  auto store = openStore(dir.path());
  ASSERT_TRUE(store->user("alice"));
  EXPECT_EQ(testing::countFiles(tmp), 0u);
}

TEST(Store, CheckReportsOrphanAndMissingBlob) {
  TempDir dir;
  auto store = openStore(dir.path());
  auto user = store->user("alice").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*user, makeMessage("one", 100)));
  batch.push_back(newMessage(*user, makeMessage("two", 100)));
  batch.push_back(newMessage(*user, makeMessage("three", 100)));
  ASSERT_TRUE(user->append("INBOX", std::move(batch)));
  auto clean = store->check("alice").value();
  EXPECT_EQ(clean.messages, 3u);
  EXPECT_TRUE(clean.problems.empty());
  EXPECT_TRUE(clean.orphans.empty());

  std::vector<std::filesystem::path> blobs;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(user->directory() / "blobs")) {
    if (entry.is_regular_file()) blobs.push_back(entry.path());
  }
  ASSERT_EQ(blobs.size(), 3u);
  std::filesystem::remove(blobs[0]);
  std::filesystem::resize_file(blobs[1], 5);
  std::ofstream(user->directory() / "blobs" / "ab" / "abcdef0123") << "stray";

  auto report = store->check("alice").value();
  EXPECT_EQ(report.messages, 3u);
  ASSERT_EQ(report.problems.size(), 2u);
  bool saw_missing = false;
  bool saw_size = false;
  for (const auto& problem : report.problems) {
    if (problem.find(blobs[0].filename().string()) != std::string::npos &&
        problem.find("missing") != std::string::npos) {
      saw_missing = true;
    }
    if (problem.find(blobs[1].filename().string()) != std::string::npos &&
        problem.find("5 bytes") != std::string::npos) {
      saw_size = true;
    }
  }
  EXPECT_TRUE(saw_missing);
  EXPECT_TRUE(saw_size);
  EXPECT_EQ(report.orphans, (std::vector<std::string>{"blobs/ab/abcdef0123"}));
  // check() deletes nothing.
  EXPECT_TRUE(std::filesystem::exists(user->directory() / "blobs" / "ab" / "abcdef0123"));
}

TEST(Store, SchemaVersionRecordedAndNewerRefused) {
  TempDir dir;
  {
    auto store = openStore(dir.path());
    ASSERT_TRUE(store->user("alice"));
  }
  const auto db_path = dir.path() / "users" / "alice" / "meta.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 9);
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = openStore(dir.path());
  auto refused = store->user("alice");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::Corrupt);
}

TEST(Store, UsersAreSeparate) {
  TempDir dir;
  auto store = openStore(dir.path());
  auto alice = store->user("alice").value();
  auto bob = store->user("bob").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*alice, makeMessage("for alice", 10)));
  ASSERT_TRUE(alice->append("INBOX", std::move(batch)));
  EXPECT_EQ(alice->mailbox("INBOX").value().messages, 1u);
  EXPECT_EQ(bob->mailbox("INBOX").value().messages, 0u);
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "users" / "bob" / "blobs" / "ff"));
}

}  // namespace
}  // namespace popbridge::store
