// Schema version 4 (subscriptions, special-use mailboxes) reached from a store that version 2
// left on disk, written here byte for byte as that version's schema.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::TempDir;

// What popbridge with schema version 2 created (kSchemaV1 + kSchemaV2 of that version).
constexpr const char* kVersion2Schema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE mailboxes(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL
);
CREATE TABLE messages(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  header_size INTEGER NOT NULL, internaldate INTEGER NOT NULL, tz_offset INTEGER NOT NULL,
  flags INTEGER NOT NULL, keywords TEXT NOT NULL, modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_blob ON messages(blob);
CREATE TABLE expunged(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL, modseq INTEGER NOT NULL, PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
CREATE TABLE ledger(
  account TEXT NOT NULL, uidl TEXT NOT NULL, state INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,
  uid INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(account, uidl)
) WITHOUT ROWID;
CREATE TABLE mime(blob TEXT PRIMARY KEY, structure BLOB NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES('last_uidvalidity', 1700000003);
INSERT INTO mailboxes VALUES(1, 'INBOX', 1700000000, 8, 12);
INSERT INTO mailboxes VALUES(2, 'Sent', 1700000001, 3, 4);
INSERT INTO mailboxes VALUES(4, 'Work/2025', 1700000003, 2, 2);
INSERT INTO messages VALUES(1, 3, 'aa01', 10, 5, 1600000000, 60, 1, '$Forwarded', 9);
INSERT INTO messages VALUES(1, 7, 'aa02', 20, 5, 1600000001, 0, 9, '', 12);
INSERT INTO messages VALUES(2, 2, 'aa03', 30, 5, 1600000002, 0, 1, '', 4);
INSERT INTO expunged VALUES(1, 5, 11);
INSERT INTO ledger VALUES('acct', 'u1', 0, 1600000000, 1, 3);
PRAGMA user_version = 2;
)sql";

int userVersion(const std::filesystem::path& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

TEST(MigrationTest, VersionTwoStoreGainsSubscriptionsAndSpecialUseKeepingEveryUid) {
  TempDir dir;
  const auto user_dir = dir.path() / "users" / "alice";
  std::filesystem::create_directories(user_dir);
  const auto db_path = user_dir / "meta.sqlite";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kVersion2Schema, nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_close(db);
  }

  auto store = Store::open(dir.path()).value();
  auto alice = store->user("alice").value();
  EXPECT_EQ(userVersion(db_path), 9);

  auto inbox = alice->mailbox("INBOX").value();
  EXPECT_EQ(inbox.id, 1);
  EXPECT_EQ(inbox.uidvalidity, 1700000000u);
  EXPECT_EQ(inbox.uidnext, 8u);
  EXPECT_EQ(inbox.highestmodseq, 12u);
  EXPECT_EQ(inbox.special_use, 0u);
  // Schema version 6: every mailbox has its own MAILBOXID; bodies whose blob is gone (these rows
  // have none on disk) still get an EMAILID and a THREADID of their own.
  EXPECT_EQ(inbox.object_id.size(), 33u);
  EXPECT_NE(inbox.object_id, alice->mailbox("Sent").value().object_id);
  EXPECT_EQ(alice->objectIds(1, 3).value().email_id, "Eaa01");
  EXPECT_EQ(alice->objectIds(1, 3).value().thread_id, "Taa01");
  EXPECT_EQ(alice->objectIds(1, 7).value().thread_id, "Taa02");
  auto messages = alice->listMessages(1).value();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].uid, 3u);
  EXPECT_EQ(messages[0].flags, (Flags{kSeen, {"$Forwarded"}}));
  EXPECT_EQ(messages[0].modseq, 9u);
  EXPECT_EQ(messages[1].uid, 7u);
  EXPECT_EQ(messages[1].flags.system, kSeen | kDeleted);
  EXPECT_EQ(alice->expungedSince(1, 0).value(), (std::vector<std::uint32_t>{5}));
  ASSERT_EQ(alice->ledger("acct").value().size(), 1u);
  EXPECT_EQ(alice->ledger("acct").value()[0].uid, 3u);

  // The existing "Sent" is kept, with its UIDs, and becomes the \Sent mailbox.
  auto sent = alice->mailbox("Sent").value();
  EXPECT_EQ(sent.id, 2);
  EXPECT_EQ(sent.uidvalidity, 1700000001u);
  EXPECT_EQ(sent.uidnext, 3u);
  EXPECT_EQ(sent.messages, 1u);
  EXPECT_EQ(sent.special_use, kUseSent);
  EXPECT_EQ(alice->mailbox("Work/2025").value().uidvalidity, 1700000003u);

  // The missing ones are new mailboxes with fresh, larger UIDVALIDITYs and ids never used.
  std::vector<std::pair<std::string, std::uint32_t>> created;
  const auto all = alice->listMailboxes().value();
  for (const auto& box : all) {
    if (box.id <= 4) continue;
    created.emplace_back(box.name, box.special_use);
    EXPECT_GT(box.uidvalidity, 1700000003u) << box.name;
    EXPECT_EQ(box.uidnext, 1u);
  }
  EXPECT_EQ(created, (std::vector<std::pair<std::string, std::uint32_t>>{{"Archive", kUseArchive},
                                                                         {"Drafts", kUseDrafts},
                                                                         {"Junk", kUseJunk},
                                                                         {"Trash", kUseTrash}}));
  // Before version 4 LSUB listed every mailbox: all of them stay subscribed.
  EXPECT_EQ(alice->subscriptions().value(),
            (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash",
                                      "Work/2025"}));

  // Opening the migrated store again changes nothing.
  const auto before = alice->listMailboxes().value();
  alice.reset();
  store.reset();
  store = Store::open(dir.path()).value();
  alice = store->user("alice").value();
  const auto after = alice->listMailboxes().value();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].uidvalidity, before[i].uidvalidity);
    EXPECT_EQ(after[i].special_use, before[i].special_use);
  }
}

TEST(MigrationTest, RunningTheVersionFourStepAgainChangesNothing) {
  // A store whose version number was set back (as the version 1 test does) must not break.
  TempDir dir;
  std::vector<MailboxInfo> before;
  {
    auto store = Store::open(dir.path()).value();
    auto alice = store->user("alice").value();
    ASSERT_TRUE(alice->unsubscribe("Junk"));
    before = alice->listMailboxes().value();
  }
  const auto db_path = dir.path() / "users" / "alice" / "meta.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 3", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::open(dir.path()).value();
  auto alice = store->user("alice").value();
  const auto after = alice->listMailboxes().value();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].uidvalidity, before[i].uidvalidity);
    EXPECT_EQ(after[i].special_use, before[i].special_use);
    EXPECT_EQ(after[i].object_id, before[i].object_id);
  }
  EXPECT_EQ(userVersion(db_path), 9);
}

}  // namespace
}  // namespace popbridge::store
