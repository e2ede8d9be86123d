// The MIME structure kept with every stored body (schema version 2), the migration that adds it
// to a version 1 store, and copies sharing it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "protocols/mime/imap_encode.h"
#include "protocols/mime/section.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::newMessage;
using testing::TempDir;

std::unique_ptr<Store> openStore(const std::filesystem::path& dir) {
  auto store = Store::open(dir);
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

const std::string kMultipart =
    "From: Alice <alice@example.net>\r\n"
    "To: bob@example.net\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "hello\r\n"
    "--b1\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--b1--\r\n";

std::string bodyStructure(const mime::Message& message) {
  std::string out;
  mime::appendBodyStructure(out, message, mime::Extended::No);
  return out;
}

TEST(MimeStructureTest, ParsedAtIngestWithExactPartRanges) {
  TempDir dir;
  auto store = openStore(dir.path());
  auto alice = store->user("alice").value();
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*alice, kMultipart));
  auto changes = alice->append("INBOX", std::move(batch));
  ASSERT_TRUE(changes) << changes.error().message;
  const auto uid = changes->appended.front().uid;
  auto structure = alice->mimeStructure(changes->mailbox_id, uid);
  ASSERT_TRUE(structure) << structure.error().message;
  // RFC 2046 5.1.1: the CRLF before a boundary belongs to the boundary, not to the part.
  EXPECT_EQ(bodyStructure(*structure),
            "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0)"
            "(\"application\" \"pdf\" (\"name\" \"r.pdf\") NIL NIL \"base64\" 12) \"mixed\")");
  const std::uint32_t part2[] = {2};
  auto range = mime::sectionRange(*structure, part2, mime::SectionText::Body);
  ASSERT_TRUE(range);
  EXPECT_EQ(kMultipart.substr(range->offset, range->length), "JVBERi0xLjQK");
}

TEST(MimeStructureTest, CopiesShareTheStructure) {
  TempDir dir;
  auto store = openStore(dir.path());
  auto alice = store->user("alice").value();
  ASSERT_TRUE(alice->createMailbox("Store"));
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*alice, kMultipart));
  auto changes = alice->append("INBOX", std::move(batch)).value();
  const std::uint32_t uids[] = {changes.appended.front().uid};
  auto moved = alice->transfer(changes.mailbox_id, uids, "Store", TransferMode::Move);
  ASSERT_TRUE(moved) << moved.error().message;
  auto structure =
      alice->mimeStructure(moved->destination.mailbox_id, moved->destination.appended.front().uid);
  ASSERT_TRUE(structure) << structure.error().message;
  EXPECT_EQ(structure->parts.size(), 3u);
  EXPECT_FALSE(alice->mimeStructure(changes.mailbox_id, uids[0]));  // moved away
}

TEST(MimeStructureTest, VersionOneStoreMigratesAndOldBodiesAreParsedOnDemand) {
  TempDir dir;
  std::int64_t mailbox_id = 0;
  std::uint32_t uid = 0;
  std::uint32_t uidvalidity = 0;
  {
    auto store = openStore(dir.path());
    auto alice = store->user("alice").value();
    std::vector<NewMessage> batch;
    batch.push_back(newMessage(*alice, kMultipart));
    auto changes = alice->append("INBOX", std::move(batch)).value();
    mailbox_id = changes.mailbox_id;
    uid = changes.appended.front().uid;
    uidvalidity = alice->mailbox("INBOX").value().uidvalidity;
  }
  // Turn the store into what version 1 left on disk: no structure table, no text index.
  const auto db_path = dir.path() / "users" / "alice" / "meta.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE mime; DROP TABLE search_text; DROP TABLE search_docs; "
                         "DROP TABLE search_pending; PRAGMA user_version = 1",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  auto store = openStore(dir.path());
  auto alice = store->user("alice").value();
  auto inbox = alice->mailbox("INBOX").value();
  EXPECT_EQ(inbox.uidvalidity, uidvalidity);  // the migration keeps UIDVALIDITY and UIDs
  EXPECT_EQ(inbox.messages, 1u);
  auto old = alice->mimeStructure(mailbox_id, uid);
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->parts.size(), 3u);
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*alice, kMultipart));
  auto fresh = alice->append("INBOX", std::move(batch));
  ASSERT_TRUE(fresh) << fresh.error().message;
  auto stored = alice->mimeStructure(mailbox_id, fresh->appended.front().uid);
  ASSERT_TRUE(stored);
  EXPECT_EQ(bodyStructure(*stored), bodyStructure(*old));
}

TEST(MimeStructureTest, BatchAnswersEachUidLikeTheSingleRead) {
  TempDir dir;
  auto store = openStore(dir.path());
  auto alice = store->user("alice").value();
  const std::string plain = "From: bob@example.net\r\nSubject: hi\r\n\r\nplain body\r\n";
  std::vector<NewMessage> batch;
  batch.push_back(newMessage(*alice, kMultipart));
  batch.push_back(newMessage(*alice, plain));
  batch.push_back(newMessage(*alice, plain + "third\r\n"));
  auto changes = alice->append("INBOX", std::move(batch)).value();
  const std::uint32_t u1 = changes.appended[0].uid;
  const std::uint32_t u2 = changes.appended[1].uid;
  const std::uint32_t u3 = changes.appended[2].uid;
  {
    // u2's body as stored before version 2 (no structure row: parsed on demand), u3's damaged.
    const auto db_path = dir.path() / "users" / "alice" / "meta.sqlite";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    const std::string sql =
        "DELETE FROM mime WHERE blob = (SELECT blob FROM messages WHERE uid = " +
        std::to_string(u2) + "); UPDATE mime SET structure = x'00' WHERE blob = (SELECT blob " +
        "FROM messages WHERE uid = " + std::to_string(u3) + ")";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  const std::uint32_t uids[] = {u2, u1, u3 + 100, u3, u1};
  auto all = alice->mimeStructures(changes.mailbox_id, uids);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 5u);
  ASSERT_TRUE((*all)[0]) << (*all)[0].error().message;
  EXPECT_EQ(bodyStructure(*(*all)[0]),
            bodyStructure(alice->mimeStructure(changes.mailbox_id, u2).value()));
  EXPECT_EQ((*all)[0]->parts.size(), 1u);
  ASSERT_TRUE((*all)[1]);
  EXPECT_EQ(bodyStructure(*(*all)[1]),
            bodyStructure(alice->mimeStructure(changes.mailbox_id, u1).value()));
  EXPECT_EQ((*all)[1]->parts.size(), 3u);
  ASSERT_FALSE((*all)[2]);
  EXPECT_EQ((*all)[2].error().code, ErrorCode::NotFound);
  ASSERT_FALSE((*all)[3]);
  EXPECT_EQ((*all)[3].error().code, ErrorCode::Corrupt);
  ASSERT_TRUE((*all)[4]);
  EXPECT_EQ(bodyStructure(*(*all)[4]), bodyStructure(*(*all)[1]));
  auto none = alice->mimeStructures(changes.mailbox_id, {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace popbridge::store
