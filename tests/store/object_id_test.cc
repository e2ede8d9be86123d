// RFC 8474 object ids in the store: MAILBOXID (MailboxInfo::object_id), EMAILID and THREADID
// (UserStore::objectIds), and the schema version 6 migration that gives them to an old store.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::TempDir;

// RFC 8474 7: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
bool validObjectId(const std::string& id) {
  static const std::regex kObjectId("[A-Za-z0-9_-]{1,255}");
  return std::regex_match(id, kObjectId);
}

std::string mail(const std::string& message_id, const std::string& extra, int n) {
  std::string out = "Message-ID: " + message_id + "\r\n" + extra;
  return out + makeMessage("m" + std::to_string(n), 120);
}

class ObjectIdTest : public testing::UserTest {
 protected:
  // Appends `contents` to `mailbox` in one batch; returns their uids.
  std::vector<std::uint32_t> append(const std::string& mailbox,
                                    const std::vector<std::string>& contents) {
    std::vector<NewMessage> batch;
    for (const auto& content : contents) batch.push_back(newMessage(*user_, content));
    auto changes = user_->append(mailbox, std::move(batch));
    EXPECT_TRUE(changes.has_value()) << changes.error().message;
    std::vector<std::uint32_t> uids;
    if (changes) {
      for (const auto& info : changes->appended) uids.push_back(info.uid);
    }
    return uids;
  }
  MessageObjectIds ids(const std::string& mailbox, std::uint32_t uid) {
    auto result = user_->objectIds(user_->mailbox(mailbox).value().id, uid);
    EXPECT_TRUE(result.has_value()) << result.error().message;
    return result.value_or(MessageObjectIds{});
  }
};

TEST_F(ObjectIdTest, MailboxIdsAreValidDistinctAndStableAcrossRestart) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  const auto before = user_->listMailboxes().value();
  std::set<std::string> seen;
  for (const auto& box : before) {
    EXPECT_TRUE(validObjectId(box.object_id)) << box.name << ": " << box.object_id;
    EXPECT_TRUE(seen.insert(box.object_id).second) << box.name;
  }
  open();
  const auto after = user_->listMailboxes().value();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].object_id, before[i].object_id) << after[i].name;
  }
  EXPECT_EQ(user_->mailboxById(user_->mailbox("Work").value().id).value().object_id,
            user_->mailbox("Work").value().object_id);
}

TEST_F(ObjectIdTest, RenameKeepsMailboxIdAndARecreatedNameGetsANewOne) {
  const auto work = user_->createMailbox("Work").value();
  ASSERT_TRUE(user_->createMailbox("Work/Sub"));
  const auto sub = user_->mailbox("Work/Sub").value();
  EXPECT_EQ(work.object_id, user_->mailbox("Work").value().object_id);
  // RFC 8474 4.1: RENAME keeps the MAILBOXID, also of inferiors renamed with it.
  ASSERT_TRUE(user_->renameMailbox("Work", "Job"));
  EXPECT_EQ(user_->mailbox("Job").value().object_id, work.object_id);
  EXPECT_EQ(user_->mailbox("Job/Sub").value().object_id, sub.object_id);
  // A new mailbox under the old name is a different mailbox.
  const auto again = user_->createMailbox("Work").value();
  EXPECT_NE(again.object_id, work.object_id);
  ASSERT_TRUE(user_->deleteMailbox("Job/Sub"));
  const auto sub_again = user_->createMailbox("Job/Sub").value();
  EXPECT_NE(sub_again.object_id, sub.object_id);
  // Renaming INBOX moves its messages to a new mailbox; INBOX stays INBOX.
  const auto inbox = user_->mailbox("INBOX").value();
  append("INBOX", {mail("<r1@x>", "", 1)});
  const auto email = ids("INBOX", 1).email_id;
  ASSERT_TRUE(user_->renameMailbox("INBOX", "Old"));
  EXPECT_EQ(user_->mailbox("INBOX").value().object_id, inbox.object_id);
  EXPECT_NE(user_->mailbox("Old").value().object_id, inbox.object_id);
  EXPECT_EQ(ids("Old", 1).email_id, email);
}

TEST_F(ObjectIdTest, EmailIdFollowsCopiesAndMovesAndSurvivesRestart) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  append("INBOX", {mail("<a@x>", "", 1), mail("<b@x>", "", 2)});
  // The same bytes appended again are a different message (RFC 8474 5.1).
  append("INBOX", {mail("<a@x>", "", 1)});
  const auto a = ids("INBOX", 1);
  const auto b = ids("INBOX", 2);
  const auto a_again = ids("INBOX", 3);
  EXPECT_TRUE(validObjectId(a.email_id)) << a.email_id;
  EXPECT_TRUE(validObjectId(a.thread_id)) << a.thread_id;
  EXPECT_NE(a.email_id, b.email_id);
  EXPECT_NE(a.email_id, a_again.email_id);

  const auto inbox_id = user_->mailbox("INBOX").value().id;
  const std::vector<std::uint32_t> one{1};
  const std::vector<std::uint32_t> two{2};
  ASSERT_TRUE(user_->transfer(inbox_id, one, "Work", TransferMode::Copy));
  ASSERT_TRUE(user_->transfer(inbox_id, two, "Work", TransferMode::Move));
  EXPECT_EQ(ids("Work", 1).email_id, a.email_id);
  EXPECT_EQ(ids("Work", 1).thread_id, a.thread_id);
  EXPECT_EQ(ids("Work", 2).email_id, b.email_id);
  EXPECT_EQ(ids("Work", 2).thread_id, b.thread_id);
  // The original of the copy goes; the copy keeps its ids.
  ASSERT_TRUE(user_->storeFlags(inbox_id, one, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_id, std::nullopt));
  EXPECT_EQ(user_->objectIds(inbox_id, 1).error().code, ErrorCode::NotFound);
  open();
  EXPECT_EQ(ids("Work", 1).email_id, a.email_id);
  EXPECT_EQ(ids("Work", 1).thread_id, a.thread_id);
  EXPECT_EQ(ids("Work", 2).email_id, b.email_id);
  EXPECT_EQ(ids("INBOX", 3).email_id, a_again.email_id);
}

TEST_F(ObjectIdTest, ThreadIdsGroupRepliesByReferences) {
  append("INBOX", {mail("<root@x>", "", 1)});
  append("INBOX", {mail("<other@x>", "", 2)});
  // A reply by In-Reply-To, a reply to the reply by References, and in one batch a reply to a
  // message of the same batch.
  append("INBOX", {mail("<r1@x>", "In-Reply-To: <root@x>\r\n", 3)});
  append("INBOX", {mail("<r2@x>", "References: <root@x> <r1@x>\r\n", 4),
                   mail("<r3@x>", "References: <root@x> <r1@x> <r2@x>\r\n", 5)});
  // A message with no Message-ID and no references is a thread of its own.
  append("INBOX", {makeMessage("lonely", 50)});
  // References whose root is unknown but whose parent is known.
  append("INBOX", {mail("<r4@x>", "References: <gone@x> <r2@x>\r\n", 7)});
  const std::string root = ids("INBOX", 1).thread_id;
  EXPECT_NE(ids("INBOX", 2).thread_id, root);
  for (std::uint32_t uid : {3u, 4u, 5u, 7u}) EXPECT_EQ(ids("INBOX", uid).thread_id, root) << uid;
  EXPECT_NE(ids("INBOX", 6).thread_id, root);
  EXPECT_NE(ids("INBOX", 6).thread_id, ids("INBOX", 2).thread_id);

  // A reply stored before its parent: the parent joins the reply's thread when it arrives.
  append("INBOX", {mail("<child@y>", "In-Reply-To: <parent@y>\r\n", 8)});
  append("INBOX", {mail("<parent@y>", "", 9)});
  EXPECT_EQ(ids("INBOX", 9).thread_id, ids("INBOX", 8).thread_id);
  EXPECT_NE(ids("INBOX", 8).thread_id, root);

  // A late reply to a message that was expunged still joins its thread.
  const auto inbox_id = user_->mailbox("INBOX").value().id;
  const std::vector<std::uint32_t> first{1};
  ASSERT_TRUE(user_->storeFlags(inbox_id, first, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_id, std::nullopt));
  append("INBOX", {mail("<late@x>", "In-Reply-To: <root@x>\r\n", 10)});
  EXPECT_EQ(ids("INBOX", 10).thread_id, root);
  open();
  EXPECT_EQ(ids("INBOX", 5).thread_id, root);
}

// A query of one leaf, or of `kind` over leaves.
SearchQuery query(std::vector<SearchNode> leaves, SearchNode::Kind kind = SearchNode::Kind::And) {
  SearchQuery q;
  if (leaves.size() == 1) {
    leaves[0].end = 1;
    q.nodes = std::move(leaves);
    return q;
  }
  SearchNode root;
  root.kind = kind;
  root.end = static_cast<std::uint32_t>(leaves.size() + 1);
  q.nodes.push_back(std::move(root));
  for (auto& leaf : leaves) {
    leaf.end = static_cast<std::uint32_t>(q.nodes.size() + 1);
    q.nodes.push_back(std::move(leaf));
  }
  return q;
}

SearchNode leaf(SearchNode::Kind kind, std::string value, std::string field = {}) {
  SearchNode node;
  node.kind = kind;
  node.field = std::move(field);
  node.value = std::move(value);
  return node;
}

TEST_F(ObjectIdTest, BatchAnswersEachUidAsObjectIdsDoes) {
  append("INBOX", {mail("<root@x>", "", 1), mail("<other@x>", "", 2)});
  append("INBOX", {mail("<r1@x>", "In-Reply-To: <root@x>\r\n", 3)});
  const auto inbox_id = user_->mailbox("INBOX").value().id;
  // Out of order, repeated, and one uid the mailbox does not have.
  const std::vector<std::uint32_t> uids{3, 1, 99, 2, 3};
  auto all = user_->objectIdsOf(inbox_id, uids);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), uids.size());
  for (std::size_t i = 0; i < uids.size(); ++i) {
    auto one = user_->objectIds(inbox_id, uids[i]);
    ASSERT_EQ((*all)[i].has_value(), one.has_value()) << "uid " << uids[i];
    if (!one) {
      EXPECT_EQ((*all)[i].error().code, ErrorCode::NotFound);
      continue;
    }
    EXPECT_EQ((*all)[i]->email_id, one->email_id) << "uid " << uids[i];
    EXPECT_EQ((*all)[i]->thread_id, one->thread_id) << "uid " << uids[i];
  }
  // The reply is in its parent's thread; the others are not in each other's.
  EXPECT_EQ((*all)[0]->thread_id, (*all)[1]->thread_id);
  EXPECT_NE((*all)[3]->thread_id, (*all)[1]->thread_id);
  EXPECT_FALSE((*all)[2]);
  auto none = user_->objectIdsOf(inbox_id, {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(ObjectIdTest, SearchByEmailIdAndThreadId) {
  using K = SearchNode::Kind;
  ASSERT_TRUE(user_->createMailbox("Work"));
  append("INBOX", {mail("<a@x>", "", 1), mail("<b@x>", "In-Reply-To: <a@x>\r\n", 2),
                   mail("<c@x>", "", 3), mail("<d@x>", "References: <a@x> <b@x>\r\n", 4)});
  const auto inbox = user_->mailbox("INBOX").value().id;
  const std::vector<std::uint32_t> two{2};
  ASSERT_TRUE(user_->transfer(inbox, two, "Work", TransferMode::Copy));
  const auto work = user_->mailbox("Work").value().id;
  const auto b = ids("INBOX", 2);
  using Uids = std::vector<std::uint32_t>;
  EXPECT_EQ(user_->search(inbox, query({leaf(K::EmailId, b.email_id)})).value(), Uids{2});
  EXPECT_EQ(user_->search(work, query({leaf(K::EmailId, b.email_id)})).value(), Uids{1});
  EXPECT_EQ(user_->search(inbox, query({leaf(K::ThreadId, b.thread_id)})).value(), (Uids{1, 2, 4}));
  EXPECT_EQ(user_->search(work, query({leaf(K::ThreadId, b.thread_id)})).value(), Uids{1});
  // NOT, OR, and a content key that leaves the object ids to the evaluator.
  SearchQuery negated;
  negated.nodes = {leaf(K::Not, ""), leaf(K::ThreadId, b.thread_id)};
  negated.nodes[0].end = 2;
  negated.nodes[1].end = 2;
  EXPECT_EQ(user_->search(inbox, negated).value(), Uids{3});
  EXPECT_EQ(user_
                ->search(inbox, query({leaf(K::EmailId, ids("INBOX", 3).email_id),
                                       leaf(K::EmailId, b.email_id)},
                                      K::Or))
                .value(),
            (Uids{2, 3}));
  EXPECT_EQ(
      user_
          ->search(
              inbox,
              query({leaf(K::Header, "<d@", "Message-ID"), leaf(K::ThreadId, b.thread_id)}, K::Or))
          .value(),
      (Uids{1, 2, 4}));
  EXPECT_EQ(user_
                ->search(inbox,
                         query({leaf(K::Header, "x>", "Message-ID"), leaf(K::EmailId, b.email_id)}))
                .value(),
            Uids{2});
  // Ids of nothing here, or not even of the right form, match nothing.
  EXPECT_TRUE(user_->search(inbox, query({leaf(K::EmailId, "Enope")})).value().empty());
  EXPECT_TRUE(user_->search(inbox, query({leaf(K::EmailId, b.thread_id)})).value().empty());
  EXPECT_TRUE(user_->search(inbox, query({leaf(K::ThreadId, "T' OR 1=1 --")})).value().empty());
  EXPECT_TRUE(user_->search(inbox, query({leaf(K::EmailId, "E' OR 1=1 --")})).value().empty());
}

TEST_F(ObjectIdTest, VersionFiveStoreGetsIdsKeepingEveryUidAndFlag) {
  ASSERT_TRUE(user_->createMailbox("Work"));
  append("INBOX", {mail("<p@x>", "", 1), mail("<q@x>", "", 2)});
  append("Work", {mail("<p1@x>", "In-Reply-To: <p@x>\r\n", 3)});
  const auto inbox_id = user_->mailbox("INBOX").value().id;
  const std::vector<std::uint32_t> two{2};
  ASSERT_TRUE(user_->storeFlags(inbox_id, two, FlagOp::Add, Flags{kFlagged, {"$Label1"}}));
  ASSERT_TRUE(user_->transfer(inbox_id, two, "Work", TransferMode::Copy));
  const auto mailboxes = user_->listMailboxes().value();
  const auto inbox_messages = user_->listMessages(inbox_id).value();
  const auto email_p = ids("INBOX", 1).email_id;
  user_.reset();
  store_.reset();

  // Back to what schema version 5 had: no object_id column, no thread tables.
  const auto db_path = dir_.path() / "users" / "alice" / "meta.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db,
                         "ALTER TABLE mailboxes DROP COLUMN object_id; DROP TABLE threads; "
                         "DROP TABLE thread_refs; PRAGMA user_version = 5;",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  sqlite3_close(db);

  open();
  const auto migrated = user_->listMailboxes().value();
  ASSERT_EQ(migrated.size(), mailboxes.size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < migrated.size(); ++i) {
    EXPECT_EQ(migrated[i].id, mailboxes[i].id);
    EXPECT_EQ(migrated[i].name, mailboxes[i].name);
    EXPECT_EQ(migrated[i].uidvalidity, mailboxes[i].uidvalidity);
    EXPECT_EQ(migrated[i].uidnext, mailboxes[i].uidnext);
    EXPECT_EQ(migrated[i].highestmodseq, mailboxes[i].highestmodseq);
    EXPECT_TRUE(validObjectId(migrated[i].object_id)) << migrated[i].object_id;
    EXPECT_TRUE(seen.insert(migrated[i].object_id).second);
  }
  const auto messages = user_->listMessages(inbox_id).value();
  ASSERT_EQ(messages.size(), inbox_messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].uid, inbox_messages[i].uid);
    EXPECT_EQ(messages[i].flags, inbox_messages[i].flags);
    EXPECT_EQ(messages[i].modseq, inbox_messages[i].modseq);
  }
  // EMAILID is the body's id, which the old store had already; threads come from the headers.
  EXPECT_EQ(ids("INBOX", 1).email_id, email_p);
  EXPECT_EQ(ids("Work", 1).thread_id, ids("INBOX", 1).thread_id);
  EXPECT_NE(ids("INBOX", 2).thread_id, ids("INBOX", 1).thread_id);
  EXPECT_EQ(ids("Work", 2).email_id, ids("INBOX", 2).email_id);
  EXPECT_EQ(ids("Work", 2).thread_id, ids("INBOX", 2).thread_id);
  // New messages still thread with the migrated ones.
  append("INBOX", {mail("<p2@x>", "References: <p@x> <p1@x>\r\n", 4)});
  EXPECT_EQ(ids("INBOX", 3).thread_id, ids("INBOX", 1).thread_id);
}

}  // namespace
}  // namespace popbridge::store
