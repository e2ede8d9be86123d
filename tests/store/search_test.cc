#include "store/search.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store/user_store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::TempDir;
using Kind = SearchNode::Kind;

// Builds flat query trees: leaves and operators in prefix order, `end` filled in by close().
class QueryBuilder {
 public:
  QueryBuilder& leaf(SearchNode node) {
    node.end = static_cast<std::uint32_t>(query_.nodes.size() + 1);
    query_.nodes.push_back(std::move(node));
    closeFinished();
    return *this;
  }
  // Opens And/Or/Not; And needs an explicit close(), Or and Not close after 2 / 1 operands.
  QueryBuilder& open(Kind kind) {
    SearchNode node;
    node.kind = kind;
    open_.push_back({query_.nodes.size(), kind == Kind::Not ? 1 : (kind == Kind::Or ? 2 : -1)});
    query_.nodes.push_back(std::move(node));
    return *this;
  }
  QueryBuilder& close() {
    query_.nodes[open_.back().index].end = static_cast<std::uint32_t>(query_.nodes.size());
    open_.pop_back();
    closeFinished();
    return *this;
  }
  SearchQuery build() {
    while (!open_.empty()) close();
    return query_;
  }

 private:
  struct Open {
    std::size_t index;
    int remaining;
  };
  void closeFinished() {
    while (!open_.empty() && open_.back().remaining > 0 && --open_.back().remaining == 0) {
      query_.nodes[open_.back().index].end = static_cast<std::uint32_t>(query_.nodes.size());
      open_.pop_back();
    }
  }
  SearchQuery query_;
  std::vector<Open> open_;
};

SearchNode node(Kind kind) {
  SearchNode n;
  n.kind = kind;
  return n;
}
SearchNode flags(Kind kind, std::uint32_t bits) {
  SearchNode n = node(kind);
  n.flags = bits;
  return n;
}
SearchNode text(Kind kind, std::string value, std::string field = {}) {
  SearchNode n = node(kind);
  n.value = std::move(value);
  n.field = std::move(field);
  return n;
}
SearchNode number(Kind kind, std::uint64_t size) {
  SearchNode n = node(kind);
  n.size = size;
  return n;
}
SearchNode day(Kind kind, std::int64_t d) {
  SearchNode n = node(kind);
  n.day = d;
  return n;
}
SearchNode uids(std::vector<UidRange> ranges) {
  SearchNode n = node(Kind::Uids);
  n.uids = std::move(ranges);
  return n;
}

// One key as a whole query (the root may be a leaf).
SearchQuery only(SearchNode n) { return QueryBuilder().leaf(std::move(n)).build(); }

constexpr std::int64_t kDay = 86400;
// 2024-03-10 00:00:00 UTC is day 19792.
constexpr std::int64_t kMarch10 = 19792;

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    user_ = store_->user("alice").value();
    inbox_ = user_->mailbox("INBOX").value().id;

    // uid 1: plain, seen, internaldate 2024-03-10 23:30 at -0500 (UTC already March 11).
    add("From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\n"
        "Subject: Quarterly report\r\nDate: Sun, 10 Mar 2024 23:30:00 -0500\r\n\r\n"
        "The numbers are in. Revenue grew.\r\n",
        {kSeen, {}}, (kMarch10 + 1) * kDay + 4 * kDay / 24 + 30 * 60, -300);
    // uid 2: flagged, answered, keyword, folded encoded subject, Cc, large body.
    add("From: \"Bob\" <bob@example.net>\r\nTo: alice@example.org\r\nCc: Carol "
        "<carol@example.com>\r\n"
        "Subject: =?UTF-8?B?SMOpbGxv?=\r\n =?ISO-8859-1?Q?_W=F6rld?=\r\n"
        "Date: 9 Mar 2024 08:00:00 +0000\r\nX-Mailer: popbridge-test\r\n\r\n" +
            std::string(70000, 'x') + "needle-at-chunk-boundary" + std::string(100, 'y') + "\r\n",
        {kFlagged | kAnswered, {"$Forwarded", "Project's"}}, kMarch10 * kDay - 1, 0);
    // uid 3: draft, deleted, no Date header, tiny.
    add("Subject: draft\r\n\r\nhi\r\n", {kDraft | kDeleted, {"Junk"}}, (kMarch10 + 5) * kDay, 0);
    // uid 4: no header/body separator; header-only message with a Bcc.
    add("From: dave@example.org\r\nBcc: secret@example.org\r\nSubject: NEEDLE in header",
        {kSeen | kFlagged, {}}, kMarch10 * kDay + 10, 0);
  }

  void add(const std::string& content, Flags f, std::int64_t internaldate, int tz) {
    std::vector<NewMessage> batch;
    NewMessage message = testing::newMessage(*user_, content, f);
    message.internaldate = internaldate;
    message.tz_offset_minutes = tz;
    batch.push_back(std::move(message));
    auto changes = user_->append("INBOX", std::move(batch));
    ASSERT_TRUE(changes.has_value()) << changes.error().message;
  }

  std::vector<std::uint32_t> run(const SearchQuery& query) {
    auto found = user_->search(inbox_, query);
    EXPECT_TRUE(found.has_value()) << found.error().message;
    return found.value_or(std::vector<std::uint32_t>{});
  }

  using U = std::vector<std::uint32_t>;

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<UserStore> user_;
  std::int64_t inbox_ = 0;
};

// RFC 7162 3.1.5: MODSEQ n matches messages whose modseq is n or more; hits carry the modseq.
TEST_F(SearchTest, ModseqAtLeast) {
  const auto messages = user_->listMessages(inbox_).value();
  const std::uint64_t top = messages.back().modseq;
  const std::vector<std::uint32_t> two{2};
  ASSERT_TRUE(user_->storeFlags(inbox_, two, FlagOp::Add, Flags{kSeen, {}}));
  SearchNode n = node(Kind::ModseqAtLeast);
  n.modseq = top + 1;
  EXPECT_EQ(run(only(n)), (U{2}));
  n.modseq = 0;
  EXPECT_EQ(run(only(n)), (U{1, 2, 3, 4}));
  // Through SQL and through the evaluator (under OR nothing is narrowed in SQL).
  n.modseq = top + 1;
  EXPECT_EQ(
      run(QueryBuilder().open(Kind::Or).leaf(n).leaf(text(Kind::Header, "zzz", "Subject")).build()),
      (U{2}));
  auto hits = user_->searchHits(inbox_, only(n));
  ASSERT_TRUE(hits.has_value());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].uid, 2u);
  EXPECT_EQ((*hits)[0].modseq, top + 1);
}

TEST_F(SearchTest, Flags) {
  EXPECT_EQ(run(only(node(Kind::All))), (U{1, 2, 3, 4}));
  EXPECT_EQ(run(only(node(Kind::None))), U{});
  EXPECT_EQ(run(only(flags(Kind::FlagsSet, kSeen))), (U{1, 4}));
  EXPECT_EQ(run(only(flags(Kind::FlagsClear, kSeen))), (U{2, 3}));
  EXPECT_EQ(run(only(flags(Kind::FlagsSet, kFlagged | kSeen))), (U{4}));
  EXPECT_EQ(run(only(flags(Kind::FlagsClear, kDraft | kDeleted))), (U{1, 2, 4}));
  EXPECT_EQ(run(only(flags(Kind::FlagsSet, kAnswered))), (U{2}));
}

TEST_F(SearchTest, FlagsFollowStore) {
  ASSERT_TRUE(user_->storeFlags(inbox_, U{2, 3}, FlagOp::Add, Flags{kSeen, {"Later"}}));
  EXPECT_EQ(run(only(flags(Kind::FlagsSet, kSeen))), (U{1, 2, 3, 4}));
  EXPECT_EQ(run(only(text(Kind::Keyword, "later"))), (U{2, 3}));
  ASSERT_TRUE(user_->storeFlags(inbox_, U{3}, FlagOp::Remove, Flags{kSeen, {"LATER"}}));
  EXPECT_EQ(run(only(text(Kind::Keyword, "Later"))), (U{2}));
  EXPECT_EQ(run(only(flags(Kind::FlagsClear, kSeen))), (U{3}));
}

TEST_F(SearchTest, Keywords) {
  EXPECT_EQ(run(only(text(Kind::Keyword, "$forwarded"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Keyword, "Project's"))), (U{2}));  // quote in the SQL literal
  EXPECT_EQ(run(only(text(Kind::Keyword, "Project"))), U{});       // whole keywords only
  EXPECT_EQ(run(only(text(Kind::Keyword, "Forwarded"))), U{});
  EXPECT_EQ(run(only(text(Kind::NoKeyword, "junk"))), (U{1, 2, 4}));
}

TEST_F(SearchTest, Sizes) {
  const std::uint64_t size3 = std::string("Subject: draft\r\n\r\nhi\r\n").size();
  EXPECT_EQ(run(only(number(Kind::Smaller, size3))), U{});
  EXPECT_EQ(run(only(number(Kind::Smaller, size3 + 1))), (U{3}));
  EXPECT_EQ(run(only(number(Kind::Larger, 70000))), (U{2}));
  EXPECT_EQ(run(only(number(Kind::Larger, 0))), (U{1, 2, 3, 4}));
}

TEST_F(SearchTest, InternalDateUsesItsOwnZone) {
  // uid 1 is 2024-03-11 04:30 UTC but 2024-03-10 23:30 in its own zone (-0500).
  EXPECT_EQ(run(only(day(Kind::On, kMarch10))), (U{1, 4}));
  EXPECT_EQ(run(only(day(Kind::On, kMarch10 - 1))), (U{2}));
  EXPECT_EQ(run(only(day(Kind::Before, kMarch10))), (U{2}));
  EXPECT_EQ(run(only(day(Kind::Since, kMarch10))), (U{1, 3, 4}));
  EXPECT_EQ(run(only(day(Kind::Since, kMarch10 + 1))), (U{3}));
  EXPECT_EQ(run(only(day(Kind::Before, kMarch10 + 100))), (U{1, 2, 3, 4}));
}

TEST_F(SearchTest, ArrivalInstantsIgnoreTheZone) {
  // RFC 5032 OLDER / YOUNGER compare instants: uid 1 arrived (kMarch10 + 1) 04:30 UTC.
  SearchNode before = node(Kind::ArrivedBefore);
  before.seconds = (kMarch10 + 1) * kDay + 4 * kDay / 24 + 30 * 60;
  EXPECT_EQ(run(only(before)), (U{2, 4}));
  before.seconds += 1;
  EXPECT_EQ(run(only(before)), (U{1, 2, 4}));
  SearchNode since = node(Kind::ArrivedSince);
  since.seconds = kMarch10 * kDay + 10;
  EXPECT_EQ(run(only(since)), (U{1, 3, 4}));
  since.seconds += 1;
  EXPECT_EQ(run(only(since)), (U{1, 3}));
  // Also where SQL cannot narrow (under NOT with a body key), by the per-message evaluator.
  EXPECT_EQ(run(QueryBuilder()
                    .open(Kind::And)
                    .open(Kind::Not)
                    .leaf(since)
                    .leaf(text(Kind::Text, "e"))
                    .build()),
            (U{2, 4}));
}

TEST_F(SearchTest, SentDatesUseTheDateHeaderAsWritten) {
  EXPECT_EQ(run(only(day(Kind::SentOn, kMarch10))), (U{1}));
  EXPECT_EQ(run(only(day(Kind::SentBefore, kMarch10))), (U{2}));
  EXPECT_EQ(run(only(day(Kind::SentSince, kMarch10 - 1))), (U{1, 2}));  // 3, 4: no Date
}

TEST_F(SearchTest, HeaderKeys) {
  EXPECT_EQ(run(only(text(Kind::Header, "ALICE", "from"))), (U{1}));
  EXPECT_EQ(run(only(text(Kind::Header, "alice@example.org", "To"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Header, "carol", "CC"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Header, "secret", "bcc"))), (U{4}));
  EXPECT_EQ(run(only(text(Kind::Header, "report", "Subject"))), (U{1}));
  // Present with any value (RFC 3501 6.4.4: empty string), absent, and name must match whole.
  EXPECT_EQ(run(only(text(Kind::Header, "", "X-Mailer"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Header, "", "X-Mail"))), U{});
  EXPECT_EQ(run(only(text(Kind::Header, "", "Subject"))), (U{1, 2, 3, 4}));
}

TEST_F(SearchTest, EncodedWordsAreDecodedAndUnfolded) {
  EXPECT_EQ(run(only(text(Kind::Header, "H\xc3\xa9llo W\xc3\xb6rld", "Subject"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Header, "w\xc3\xb6rld", "subject"))), (U{2}));
}

TEST_F(SearchTest, BodyAndText) {
  EXPECT_EQ(run(only(text(Kind::Body, "REVENUE"))), (U{1}));
  // Straddles the 64 KiB read chunks of the body.
  EXPECT_EQ(run(only(text(Kind::Body, "needle-AT-chunk-boundary"))), (U{2}));
  // BODY does not look into the header; TEXT does.
  EXPECT_EQ(run(only(text(Kind::Body, "needle"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Text, "needle"))), (U{2, 4}));
  EXPECT_EQ(run(only(text(Kind::Text, "quarterly"))), (U{1}));
  EXPECT_EQ(run(only(text(Kind::Text, "h\xc3\xa9llo"))), (U{2}));
  EXPECT_EQ(run(only(text(Kind::Body, ""))), (U{1, 2, 3, 4}));
  EXPECT_EQ(run(only(text(Kind::Body, "not there at all"))), U{});
}

TEST_F(SearchTest, UidRanges) {
  EXPECT_EQ(run(only(uids({{2, 3}}))), (U{2, 3}));
  EXPECT_EQ(run(only(uids({{1, 1}, {4, 100}}))), (U{1, 4}));
  EXPECT_EQ(run(only(uids({}))), U{});
  // Many ranges stay out of SQL and are checked in memory.
  std::vector<UidRange> many;
  for (std::uint32_t u = 1; u < 400; u += 3) many.push_back({u, u});  // 1, 4, 7, ...
  EXPECT_EQ(run(only(uids(many))), (U{1, 4}));
}

TEST_F(SearchTest, NotOrAnd) {
  // UNSEEN OR FLAGGED BODY "revenue"  -> 2, 3 unseen; of them flagged: 2
  EXPECT_EQ(run(QueryBuilder()
                    .open(Kind::And)
                    .leaf(flags(Kind::FlagsClear, kSeen))
                    .open(Kind::Or)
                    .leaf(flags(Kind::FlagsSet, kFlagged))
                    .leaf(text(Kind::Body, "revenue"))
                    .build()),
            (U{2}));
  // NOT (SEEN OR DRAFT) -> 2
  EXPECT_EQ(run(QueryBuilder()
                    .open(Kind::And)
                    .open(Kind::Not)
                    .open(Kind::Or)
                    .leaf(flags(Kind::FlagsSet, kSeen))
                    .leaf(flags(Kind::FlagsSet, kDraft))
                    .build()),
            (U{2}));
  // OR (NOT TEXT needle) (SUBJECT draft): content inside NOT and OR.
  EXPECT_EQ(run(QueryBuilder()
                    .open(Kind::And)
                    .open(Kind::Or)
                    .open(Kind::Not)
                    .leaf(text(Kind::Text, "needle"))
                    .leaf(text(Kind::Header, "draft", "subject"))
                    .build()),
            (U{1, 3}));
  // (FROM alice UID 1:2) NOT LARGER 1000
  EXPECT_EQ(run(QueryBuilder()
                    .open(Kind::And)
                    .open(Kind::And)
                    .leaf(text(Kind::Header, "example", "from"))
                    .leaf(uids({{1, 2}}))
                    .close()
                    .open(Kind::Not)
                    .leaf(number(Kind::Larger, 1000))
                    .build()),
            (U{1}));
}

TEST_F(SearchTest, DeepNestingIsIterative) {
  // 50,001 NOTs around SEEN: too deep for SQL, evaluated without recursion.
  QueryBuilder builder;
  builder.open(Kind::And);
  for (int i = 0; i < 50001; ++i) builder.open(Kind::Not);
  builder.leaf(flags(Kind::FlagsSet, kSeen));
  EXPECT_EQ(run(builder.build()), (U{2, 3}));
}

TEST_F(SearchTest, Errors) {
  EXPECT_EQ(user_->search(inbox_ + 1000, only(node(Kind::All))).error().code, ErrorCode::NotFound);
  SearchQuery broken;
  EXPECT_EQ(user_->search(inbox_, broken).error().code, ErrorCode::Internal);
  broken.nodes.push_back(node(Kind::Or));
  broken.nodes[0].end = 1;
  EXPECT_EQ(user_->search(inbox_, broken).error().code, ErrorCode::Internal);
  SearchQuery wrong_end = only(node(Kind::All));
  wrong_end.nodes[0].end = 5;
  EXPECT_EQ(user_->search(inbox_, wrong_end).error().code, ErrorCode::Internal);
}

TEST_F(SearchTest, ExpungedMessagesAreGone) {
  ASSERT_TRUE(user_->expunge(inbox_, std::nullopt));  // uid 3 is \Deleted
  EXPECT_EQ(run(only(node(Kind::All))), (U{1, 2, 4}));
  EXPECT_EQ(run(only(text(Kind::Text, "hi"))), U{});
}

}  // namespace
}  // namespace popbridge::store
