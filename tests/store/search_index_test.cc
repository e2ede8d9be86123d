// The full-text index behind SEARCH TEXT and BODY (schema version 3): decoded text, index rows
// across append/copy/move/expunge/delete, results equal to a brute-force scan of a generated
// corpus (through both ways of asking the index), and the migration of a version 2 store.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "protocols/mime/casemap.h"
#include "store/search.h"
#include "store/store.h"
#include "store/user_store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::sqlCount;
using testing::sqlExec;
using Kind = SearchNode::Kind;
using U = std::vector<std::uint32_t>;

SearchQuery textQuery(Kind kind, std::string value) {
  SearchNode node;
  node.kind = kind;
  node.value = std::move(value);
  node.end = 1;
  return SearchQuery{{std::move(node)}};
}

// Runs one SQL statement returning one integer on the user's database.
class SearchIndexTest : public testing::UserTest {
 protected:
  std::uint32_t add(const std::string& content, std::string_view mailbox = "INBOX",
                    Flags flags = {}) {
    std::vector<NewMessage> batch;
    batch.push_back(testing::newMessage(*user_, content, std::move(flags)));
    auto changes = user_->append(mailbox, std::move(batch));
    EXPECT_TRUE(changes.has_value()) << changes.error().message;
    return changes ? changes->appended.front().uid : 0;
  }

  U run(Kind kind, const std::string& needle, std::int64_t mailbox = 0) {
    auto found = user_->search(mailbox == 0 ? inbox_ : mailbox, textQuery(kind, needle));
    EXPECT_TRUE(found.has_value()) << found.error().message;
    return found ? *found : U{};
  }

  std::int64_t docs() const { return sqlCount(userDir(), "SELECT count(*) FROM search_docs"); }
  // Documents an expunge listed for indexPending() to remove.
  std::int64_t forgetting() const {
    return sqlCount(userDir(), "SELECT count(*) FROM search_forget");
  }
  // Documents the word index proves to hold `word`.
  std::int64_t words(const std::string& word) const {
    return sqlCount(userDir(),
                    "SELECT count(*) FROM search_words WHERE search_words MATCH '" + word + "'");
  }
  std::int64_t texts() const { return sqlCount(userDir(), "SELECT count(*) FROM search_text"); }
  // Message rows whose doc column does not name their body's document (schema version 7).
  std::int64_t docMismatches() const {
    return sqlCount(userDir(),
                    "SELECT count(*) FROM messages m "
                    "WHERE doc IS NOT (SELECT id FROM search_docs d WHERE d.blob = m.blob)");
  }
  std::int64_t pending() const {
    return sqlCount(userDir(), "SELECT count(*) FROM search_pending");
  }
  // Runs indexPending(max_docs) until nothing is pending; returns how many it took in all.
  std::size_t drain(std::size_t max_docs = 64) {
    std::size_t total = 0;
    while (true) {
      auto done = user_->indexPending(max_docs);
      EXPECT_TRUE(done.has_value()) << done.error().message;
      if (!done || *done == 0) return total;
      EXPECT_LE(*done, max_docs);
      total += *done;
    }
  }
};

const std::string kMultipart =
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
    "Subject: =?UTF-8?B?UsOpc3Vtw6k=?= of the week\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble-word\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Cr=E8me br=FBl=E9e for every=\r\nbody, 100% sure_thing.\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    // "<p>Stra\xc3\x9f" "e und Gr\xc3\xbc\xc3\x9f" "e</p>"
    "PHA+U3RyYcOfZSB1bmQgR3LDvMOfZTwvcD4=\r\n"
    "--b1\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0IGltYWdlIGJ5dGVz\r\n"  // "secret image bytes": not text, not searched
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: =?koi8-r?B?8NLJ18XU?= attached\r\n"
    "Content-Type: text/plain; charset=koi8-r\r\n"
    "\r\n"
    "\xf0\xd2\xc9\xd7\xc5\xd4 inner body\r\n"
    "--b1--\r\n"
    "epilogue-word\r\n";

TEST_F(SearchIndexTest, TextIsDecoded) {
  const std::uint32_t uid = add(kMultipart);
  const std::uint32_t plain = add(testing::makeMessage("plain one", 300));
  ASSERT_EQ(drain(), 2u);  // from the index (the blob fallback: the test below)
  // Quoted-printable, Latin-1, a soft line break.
  EXPECT_EQ(run(Kind::Body,
                "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                "e"),
            U{uid});
  EXPECT_EQ(run(Kind::Body, "EVERYBODY"), U{uid});
  EXPECT_EQ(run(Kind::Body, "=E8"), U{});  // the encoded form is not text
  // Base64 UTF-8 HTML.
  EXPECT_EQ(run(Kind::Body,
                "stra\xc3\x9f"
                "e und"),
            U{uid});
  EXPECT_EQ(run(Kind::Body, "PHA+"), U{});
  // A non-text part is not searched, raw or decoded.
  EXPECT_EQ(run(Kind::Text, "secret image"), U{});
  EXPECT_EQ(run(Kind::Text, "c2VjcmV0"), U{});
  // The attached message: its header (KOI8-R encoded-word) is header text, its body body text.
  EXPECT_EQ(run(Kind::Text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 attached"), U{uid});
  EXPECT_EQ(run(Kind::Body, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 attached"), U{});
  EXPECT_EQ(run(Kind::Body, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 inner"), U{uid});
  // The message header: TEXT sees it decoded, BODY does not see it.
  EXPECT_EQ(run(Kind::Text, "r\xc3\xa9sum\xc3\xa9 of the"), U{uid});
  EXPECT_EQ(run(Kind::Body, "of the week"), U{});
  EXPECT_EQ(run(Kind::Text, "from: andr\xc3\xa9"), U{uid});
  EXPECT_EQ(run(Kind::Text, "subject: plain"), U{plain});
  // Preamble and epilogue are not text; MIME part headers are header text only.
  EXPECT_EQ(run(Kind::Text, "preamble-word"), U{});
  EXPECT_EQ(run(Kind::Text, "epilogue-word"), U{});
  EXPECT_EQ(run(Kind::Body, "quoted-printable"), U{});
  EXPECT_EQ(run(Kind::Text, "quoted-printable"), U{uid});
  EXPECT_EQ(run(Kind::Text, "content-type: image/png"), U{uid});
  // LIKE's wildcards are plain characters in a needle.
  EXPECT_EQ(run(Kind::Body, "100% sure_thing"), U{uid});
  EXPECT_EQ(run(Kind::Body, "100%"), U{uid});
  EXPECT_EQ(run(Kind::Body, "1_0"), U{});
  EXPECT_EQ(run(Kind::Body, "%"), U{uid});
  EXPECT_EQ(run(Kind::Body, "e_t"), U{uid});  // "sure_thing"
  EXPECT_EQ(run(Kind::Body, "y_t"), U{});
  EXPECT_EQ(run(Kind::Body, "%_"), U{});
  EXPECT_EQ(run(Kind::Body, "e_"), U{uid});
  // Needles under 3 characters (no trigram): i;unicode-casemap still.
  EXPECT_EQ(run(Kind::Body, "\xc3\xa8"), U{uid});
  EXPECT_EQ(run(Kind::Body, "\xc3\x88"), U{uid});   // È matches è
  EXPECT_EQ(run(Kind::Body, "E\xcc\x80"), U{uid});  // and so does E + combining grave
  EXPECT_EQ(run(Kind::Text, "8-"), U{uid});
  EXPECT_EQ(run(Kind::Body, "8-"), U{});
  EXPECT_EQ(run(Kind::Body, "0%"), U{uid});
  // Bytes that are not UTF-8 never match decoded text.
  EXPECT_EQ(run(Kind::Body, "cr\xe8me"), U{});
  EXPECT_EQ(run(Kind::Body, ""), (U{uid, plain}));
}

TEST_F(SearchIndexTest, OneDocumentPerBlobAcrossCopyMoveExpungeDelete) {
  const std::uint32_t a = add(testing::makeMessage("alpha", 500) + "\r\nunique-alpha\r\n");
  const std::uint32_t b = add(testing::makeMessage("beta", 500) + "\r\nunique-beta\r\n");
  // append() defers the tokenizing: both bodies are pending until indexPending() runs.
  EXPECT_EQ(docs(), 0);
  EXPECT_EQ(pending(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-alpha"), U{a});
  EXPECT_EQ(docMismatches(), 0);
  EXPECT_EQ(drain(), 2u);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(texts(), 2);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM messages WHERE doc IS NOT NULL"), 2);
  ASSERT_TRUE(user_->createMailbox("Kept"));
  ASSERT_TRUE(user_->createMailbox("Other"));
  const std::int64_t archive = user_->mailbox("Kept").value().id;
  const std::int64_t other = user_->mailbox("Other").value().id;

  // COPY shares the blob and its document.
  const std::vector<std::uint32_t> both{a, b};
  auto copied = user_->transfer(inbox_, both, "Kept", TransferMode::Copy);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(docMismatches(), 0);
  EXPECT_EQ(run(Kind::Body, "unique-alpha", archive), U{copied->destination.appended[0].uid});
  EXPECT_EQ(run(Kind::Body, "unique-alpha"), U{a});

  // MOVE keeps it too.
  const std::vector<std::uint32_t> just_b{b};
  auto moved = user_->transfer(inbox_, just_b, "Other", TransferMode::Move);
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-beta", other), U{moved->destination.appended[0].uid});
  EXPECT_EQ(run(Kind::Body, "unique-beta"), U{});
  EXPECT_EQ(docMismatches(), 0);

  // Expunging one of two references keeps the document; the last one removes it.
  const std::vector<std::uint32_t> just_a{a};
  ASSERT_TRUE(user_->storeFlags(inbox_, just_a, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, std::nullopt));
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-alpha", archive).size(), 1u);
  const std::vector<std::uint32_t> archived{copied->destination.appended[0].uid};
  ASSERT_TRUE(user_->storeFlags(archive, archived, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(archive, archived));
  // The expunge only lists the document; it matches nothing any more and leaves the index with
  // the next indexPending(), which counts it.
  EXPECT_EQ(forgetting(), 1);
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-alpha", archive), U{});
  EXPECT_EQ(run(Kind::Body, "unique-alpha"), U{});
  EXPECT_EQ(docMismatches(), 0);
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(forgetting(), 0);
  EXPECT_EQ(docs(), 1);
  EXPECT_EQ(texts(), 1);
  EXPECT_EQ(words("unique"), 1);

  // Deleting a mailbox removes the documents only it referenced: beta is still in Archive.
  ASSERT_TRUE(user_->deleteMailbox("Other"));
  EXPECT_EQ(drain(), 0u);
  EXPECT_EQ(docs(), 1);
  EXPECT_EQ(run(Kind::Body, "unique-beta", archive), U{copied->destination.appended[1].uid});
  ASSERT_TRUE(user_->deleteMailbox("Kept"));
  EXPECT_EQ(forgetting(), 1);
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(docs(), 0);
  EXPECT_EQ(texts(), 0);
  EXPECT_EQ(words("unique"), 0);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_text WHERE search_text MATCH 'uni'"),
            0);
}

TEST_F(SearchIndexTest, BodiesWithoutDocumentAreSearchedFromTheBlob) {
  // As for a body whose text is above the index limit: no document.
  const std::uint32_t uid = add(kMultipart);
  const std::uint32_t other = add(testing::makeMessage("other", 200));
  sqlExec(userDir(),
          "DELETE FROM search_text; DELETE FROM search_docs; "
          "INSERT INTO search_words(search_words) VALUES('delete-all');");
  EXPECT_EQ(run(Kind::Body,
                "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                "e"),
            U{uid});
  EXPECT_EQ(run(Kind::Body, "EVERYBODY"), U{uid});
  EXPECT_EQ(run(Kind::Text, "r\xc3\xa9sum\xc3\xa9 of the"), U{uid});
  EXPECT_EQ(run(Kind::Body, "of the week"), U{});
  EXPECT_EQ(run(Kind::Text, "secret image"), U{});
  EXPECT_EQ(run(Kind::Text, "subject: other"), U{other});
  // And without a stored structure either (a body from before version 2).
  sqlExec(userDir(), "DELETE FROM mime;");
  EXPECT_EQ(run(Kind::Body,
                "stra\xc3\x9f"
                "e und"),
            U{uid});
  EXPECT_EQ(run(Kind::Text, "E"), (U{uid, other}));
}

TEST_F(SearchIndexTest, LargeTextIsNotIndexedButFound) {
  std::string body = "Subject: big\r\n\r\n";
  for (int i = 0; body.size() < 9u * 1024 * 1024; ++i) {
    body += "filler line number " + std::to_string(i) + "\r\n";
  }
  body += "the-needle-at-the-end\r\n";
  const std::uint32_t uid = add(body);
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(run(Kind::Body, "THE-NEEDLE-AT-THE-END"), U{uid});
  // Taken off the pending list without a document: never tried again.
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(docs(), 0);
  EXPECT_EQ(user_->indexPending(10).value(), 0u);
  EXPECT_EQ(run(Kind::Body, "THE-NEEDLE-AT-THE-END"), U{uid});
  EXPECT_EQ(run(Kind::Body, "not-in-there"), U{});
}

// The trigram index only proposes candidates (no positions, no columns, Unicode case folding):
// each is checked against its text. Asked both ways: documents checked one by one (few in the
// mailbox) and candidates from the index (more than 200).
// The indexed text is casemapped a chunk at a time (512 bytes first, then doubling): a needle
// across a chunk's end, with the characters there cut or expanded by the casemapping, is found.
TEST_F(SearchIndexTest, CasemappedChunksOverlap) {
  std::vector<std::uint32_t> uids;
  std::vector<std::size_t> offsets;
  for (std::size_t offset = 490; offset < 530; ++offset) offsets.push_back(offset);
  for (std::size_t offset = 1530; offset < 1560; offset += 3) offsets.push_back(offset);
  for (const std::size_t offset : offsets) {
    // Multi-byte filler before the needle, so that chunk ends fall inside characters.
    std::string filler;
    while (filler.size() < offset) filler += filler.size() % 7 == 0 ? "\xc3\xa9" : "x";
    uids.push_back(add("Subject: chunk\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
                       filler + " \xe2\x84\xaa\xe2\x84\xaa\xc3\x96STRA\xc3\x9f" + "E end\r\n"));
  }
  ASSERT_EQ(drain(), offsets.size());
  EXPECT_EQ(run(Kind::Body,
                "kk\xc3\xb6stra\xc3\x9f"
                "e end"),
            U(uids.begin(), uids.end()));
  EXPECT_EQ(run(Kind::Body,
                "KKO\xcc\x88STRA\xc3\x9f"
                "E"),
            U(uids.begin(), uids.end()));
  EXPECT_EQ(run(Kind::Body, "kk\xc3\xb6strasse"), U{});  // ß is not "ss" in RFC 5051
}

TEST_F(SearchIndexTest, TrigramCandidatesAreChecked) {
  const std::uint32_t apart = add("Subject: one\r\n\r\nthe wor and the ord, quick brown fox\r\n");
  const std::uint32_t in_header = add("Subject: a word\r\n\r\nnothing here\r\n");
  // U+212A KELVIN SIGN: its canonical decomposition is "K"; the index is asked for "kab" and
  // for the Kelvin spelling of it.
  const std::uint32_t kelvin =
      add("Subject: two\r\n\r\n\xe2\x84\xaa"
          "ab and KAC\r\n");
  const std::uint32_t quoted = add("Subject: three\r\n\r\nthey said \"hi\" AND left\r\n");
  const std::uint32_t fox = add("Subject: four\r\n\r\nThe quick brown fox jumps over the dog\r\n");
  // Text whose casemapping differs from the index's folding: a decomposed accent, the dotless i
  // and long s (which casemap to I and S), final sigma, Cyrillic.
  const std::uint32_t unicode =
      add("Subject: five\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
          "cafe\xcc\x81 cr\xc3\xa8me, d\xc4\xb1sk mi\xc5\xbfsing, "
          "\xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82 \xd0\x94\xd0\xbe\xd0\xbc\r\n");
  const auto check = [&] {
    EXPECT_EQ(run(Kind::Body, "word"), U{});
    EXPECT_EQ(run(Kind::Text, "word"), U{in_header});
    EXPECT_EQ(run(Kind::Text, "wor"), (U{apart, in_header}));
    EXPECT_EQ(run(Kind::Body, "kab"), U{kelvin});
    EXPECT_EQ(run(Kind::Body, "kabx"), U{});
    EXPECT_EQ(run(Kind::Body, "kab and kac"), U{kelvin});
    EXPECT_EQ(run(Kind::Body, "kac"), U{kelvin});
    EXPECT_EQ(run(Kind::Body,
                  "\xe2\x84\xaa"
                  "ab"),
              U{kelvin});
    EXPECT_EQ(run(Kind::Body, "\"hi\" and"), U{quoted});
    EXPECT_EQ(run(Kind::Body, "\"hi\" or"), U{});
    EXPECT_EQ(run(Kind::Body, "and"), (U{apart, kelvin, quoted}));
    EXPECT_EQ(run(Kind::Body, "dom"), U{});  // Latin D is not Cyrillic Д
    // Longer than the trigrams asked for: the end of the needle is checked too.
    EXPECT_EQ(run(Kind::Body, "the quick brown fox jumps over the dog"), U{fox});
    EXPECT_EQ(run(Kind::Body, "the quick brown fox jumps over the cat"), U{});
    EXPECT_EQ(run(Kind::Body, "quick brown fox"), (U{apart, fox}));
    EXPECT_EQ(run(Kind::Text, std::string("wo\0rd", 5)), U{});
    EXPECT_EQ(run(Kind::Body, "CAF\xc3\x89 CR\xc3\x88ME"), U{unicode});  // É = e + U+0301
    EXPECT_EQ(run(Kind::Body, "caf"), U{unicode});
    EXPECT_EQ(run(Kind::Body, "cafe cr"), U{});  // the accent stands between E and the space
    EXPECT_EQ(run(Kind::Body, "DISK MISSING"), U{unicode});
    EXPECT_EQ(run(Kind::Body, "disk missings"), U{});
    EXPECT_EQ(run(Kind::Body, "\xce\x9b\xce\x8c\xce\x93\xce\x9f\xce\xa3"), U{unicode});  // ΛΌΓΟΣ
    EXPECT_EQ(run(Kind::Body, "\xcf\x8c\xce\xb3\xce\xbf\xcf\x83 \xd0\xb4\xd0\xbe\xd0\x9c"),
              U{unicode});  // όγοσ доМ
  };
  ASSERT_EQ(drain(), 6u);
  check();
  std::vector<NewMessage> batch;
  for (int i = 0; i < 210; ++i) {
    batch.push_back(testing::newMessage(*user_, "Subject: filler " + std::to_string(i) +
                                                    "\r\n\r\nlorem ipsum " + std::to_string(i) +
                                                    "\r\n"));
  }
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)).has_value());
  ASSERT_EQ(drain(), 210u);
  check();
  EXPECT_EQ(run(Kind::Text, "filler 209").size(), 1u);
  EXPECT_EQ(run(Kind::Body, "lorem").size(), 210u);
  // A small mailbox in the larger store learns its rows' documents one by one; a body not yet
  // indexed is read from its blob beside them.
  ASSERT_TRUE(user_->createMailbox("Small"));
  const std::int64_t small = user_->mailbox("Small").value().id;
  ASSERT_TRUE(user_->transfer(inbox_, U{fox, apart}, "Small", TransferMode::Copy).has_value());
  std::vector<NewMessage> unindexed;
  unindexed.push_back(
      testing::newMessage(*user_, "Subject: five\r\n\r\nquick brown fox, not indexed\r\n"));
  ASSERT_TRUE(user_->append("Small", std::move(unindexed)).has_value());
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(run(Kind::Body, "quick brown fox", small), (U{1, 2, 3}));
  EXPECT_EQ(run(Kind::Body, "jumps over", small), U{2});  // copied in UID order
  EXPECT_EQ(run(Kind::Text, "five", small), U{3});
  EXPECT_EQ(run(Kind::Body, "lorem", small), U{});
}

TEST_F(SearchIndexTest, PendingBodiesSurviveReopenAndFollowExpunge) {
  const std::uint32_t a = add(testing::makeMessage("alpha", 300) + "\r\nunique-alpha\r\n");
  const std::uint32_t b = add(testing::makeMessage("beta", 300) + "\r\nunique-beta\r\n");
  add(testing::makeMessage("gamma", 300));
  ASSERT_TRUE(user_->createMailbox("Kept"));
  const std::vector<std::uint32_t> just_b{b};
  ASSERT_TRUE(user_->transfer(inbox_, just_b, "Kept", TransferMode::Copy));
  EXPECT_EQ(pending(), 3);  // one per blob, not per message
  open();
  EXPECT_EQ(pending(), 3);
  // An expunged body leaves the list with its last reference; a copied one stays.
  const std::vector<std::uint32_t> a_and_b{a, b};
  ASSERT_TRUE(user_->storeFlags(inbox_, a_and_b, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, std::nullopt));
  EXPECT_EQ(pending(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-beta", user_->mailbox("Kept").value().id).size(), 1u);
  // Bounded batches: one body per call.
  EXPECT_EQ(user_->indexPending(1).value(), 1u);
  EXPECT_EQ(pending(), 1);
  EXPECT_EQ(drain(1), 1u);
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(run(Kind::Body, "unique-beta", user_->mailbox("Kept").value().id).size(), 1u);
  EXPECT_EQ(run(Kind::Body, "unique-alpha"), U{});
  // A pending body whose blob went away (expunged by another path) is skipped, not an error.
  add(testing::makeMessage("delta", 300));
  sqlExec(userDir(), "INSERT INTO search_pending(blob) VALUES('00nosuchblob')");
  EXPECT_EQ(drain(), 2u);
  EXPECT_EQ(docs(), 3);
}

TEST_F(SearchIndexTest, VersionTwoStoreIsIndexedByTheMigration) {
  const std::uint32_t first = add(kMultipart);
  const std::uint32_t second = add(testing::makeMessage("second", 400));
  ASSERT_TRUE(user_->createMailbox("Copies"));
  const std::vector<std::uint32_t> both{first, second};
  ASSERT_TRUE(user_->transfer(inbox_, both, "Copies", TransferMode::Copy));
  // What version 2 left on disk: no index tables.
  user_.reset();
  store_.reset();
  sqlExec(dir_.path() / "users" / "alice",
          "DROP TABLE search_text; DROP TABLE search_docs; DROP TABLE search_pending; "
          "PRAGMA user_version = 2;");
  open();
  EXPECT_EQ(sqlCount(userDir(), "PRAGMA user_version"), 9);
  // The migration only lists the old bodies (one per blob); indexing them comes later.
  EXPECT_EQ(docs(), 0);
  EXPECT_EQ(pending(), 2);
  EXPECT_EQ(run(Kind::Body, "EVERYBODY"), U{first});
  EXPECT_EQ(drain(), 2u);
  EXPECT_EQ(docs(), 2);
  EXPECT_EQ(run(Kind::Body, "EVERYBODY"), U{first});
  EXPECT_EQ(run(Kind::Text, "subject: second"), U{second});
  EXPECT_EQ(run(Kind::Text, "secret image"), U{});
  // New messages are indexed as usual after the migration.
  const std::uint32_t third = add(testing::makeMessage("third", 100));
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(docs(), 3);
  EXPECT_EQ(run(Kind::Text, "subject: third"), U{third});
}

// The word index (schema version 7) proves a match where the needle, ASCII letters and digits
// only, is a whole token of the text; everything else still goes through the trigram candidates
// and the check. Asked with more than 200 documents so that the index, not the per-document
// check, answers.
TEST_F(SearchIndexTest, WholeWordsAreProvenAndEverythingElseChecked) {
  std::vector<NewMessage> batch;
  for (int i = 0; i < 210; ++i) {
    batch.push_back(testing::newMessage(
        *user_, "Subject: filler " + std::to_string(i) + "\r\n\r\nlorem ipsum\r\n"));
  }
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)).has_value());
  const std::uint32_t plain = add("Subject: one\r\n\r\nthe Report is due\r\n");
  const std::uint32_t inside = add("Subject: two\r\n\r\nreports, misreporting\r\n");
  const std::uint32_t header = add("Subject: the report\r\n\r\nnothing\r\n");
  // Non-ASCII next to the letters: "report" is part of a longer token ("éreport"), not proven,
  // still found.
  const std::uint32_t accented =
      add("Subject: three\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
          "r\xc3\xa9port \xc3\xa9report snake_case 4x4\r\n");
  // U+212A KELVIN SIGN casemaps to K: "kelvin" is in the text though no token is "kelvin".
  const std::uint32_t kelvin =
      add("Subject: four\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
          "\xe2\x84\xaa"
          "elvin\r\n");
  // The last document: its id is the one SQLite gives the next document once it is gone.
  const std::uint32_t last = add("Subject: six\r\n\r\nreport, last\r\n");
  ASSERT_EQ(drain(), 216u);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_words_pending"), 0);
  const auto proven = [&](const std::string& match) {
    return sqlCount(userDir(),
                    "SELECT count(*) FROM search_words WHERE search_words MATCH '" + match + "'");
  };
  EXPECT_EQ(proven("report"), 3);
  EXPECT_EQ(proven("body : report"), 2);
  EXPECT_EQ(proven("kelvin"), 0);
  EXPECT_EQ(run(Kind::Body, "report"), (U{plain, inside, accented, last}));
  EXPECT_EQ(run(Kind::Body, "REPORT"), (U{plain, inside, accented, last}));
  EXPECT_EQ(run(Kind::Text, "report"), (U{plain, inside, header, accented, last}));
  EXPECT_EQ(run(Kind::Body, "reporting"), U{inside});
  EXPECT_EQ(run(Kind::Body, "eport"), (U{plain, inside, accented, last}));
  EXPECT_EQ(run(Kind::Body, "snake"), U{accented});
  EXPECT_EQ(run(Kind::Body, "4x4"), U{accented});
  EXPECT_EQ(run(Kind::Body, "kelvin"), U{kelvin});
  EXPECT_EQ(run(Kind::Text, "filler").size(), 210u);
  EXPECT_EQ(run(Kind::Body, "lorem").size(), 210u);

  // An expunged body leaves the word index with its document: a body indexed later under a
  // reused document id is not proven by the words of the one before.
  const std::vector<std::uint32_t> gone{plain, inside, last};
  ASSERT_TRUE(user_->storeFlags(inbox_, gone, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, gone));
  // Listed for removal, still in the index, already matching nothing.
  EXPECT_EQ(proven("report"), 3);
  EXPECT_EQ(run(Kind::Body, "report"), U{accented});
  const std::int64_t last_doc = sqlCount(
      userDir(), "SELECT max(id) FROM search_docs WHERE id NOT IN (SELECT id FROM search_forget)");
  const std::uint32_t later = add("Subject: five\r\n\r\nsomething else\r\n");
  // One job removes the three (first) and then indexes the new body, under the next id after
  // those kept (one removed in the same transaction, when it was the highest).
  ASSERT_EQ(drain(), 4u);
  EXPECT_EQ(proven("report"), 1);
  EXPECT_EQ(proven("misreporting"), 0);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_forget"), 0);
  EXPECT_EQ(sqlCount(userDir(), "SELECT max(id) FROM search_docs"), last_doc + 1);
  EXPECT_EQ(run(Kind::Body, "report"), U{accented});
  EXPECT_EQ(run(Kind::Text, "report"), (U{header, accented}));
  EXPECT_EQ(run(Kind::Body, "something"), U{later});
}

// A version 6 store has documents but no word index: the migration lists them, search stays
// exact while they wait, indexPending() adds them from their stored text, and a document
// expunged while still listed leaves the list instead of the index.
TEST_F(SearchIndexTest, VersionSixStoreGetsItsWordsFromTheStoredText) {
  std::vector<std::uint32_t> uids;
  for (int i = 0; i < 220; ++i) {
    uids.push_back(add("Subject: old " + std::to_string(i) + "\r\n\r\nbody" +
                       std::to_string(i % 3) + " common\r\n"));
  }
  ASSERT_EQ(drain(), 220u);
  user_.reset();
  store_.reset();
  sqlExec(dir_.path() / "users" / "alice",
          "DROP TABLE search_words; DROP TABLE search_words_pending; DROP TRIGGER messages_doc; "
          "DROP TRIGGER search_docs_insert; DROP TRIGGER search_docs_delete; "
          "ALTER TABLE messages DROP COLUMN doc; PRAGMA user_version = 6;");
  open();
  EXPECT_EQ(sqlCount(userDir(), "PRAGMA user_version"), 9);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM messages WHERE doc IS NOT NULL"), 220);
  EXPECT_EQ(docMismatches(), 0);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_words_pending"), 220);
  EXPECT_EQ(run(Kind::Body, "common").size(), 220u);
  EXPECT_EQ(run(Kind::Body, "body1").size(), 73u);
  // One expunged while listed, one after its words were added.
  const std::vector<std::uint32_t> first{uids[0]};
  ASSERT_TRUE(user_->storeFlags(inbox_, first, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, first));
  EXPECT_EQ(run(Kind::Body, "common").size(), 219u);
  // Its removal comes first in the next job (and takes it off the list), then 99 others.
  EXPECT_EQ(user_->indexPending(100).value(), 100u);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_words_pending"), 120);
  EXPECT_EQ(run(Kind::Body, "common").size(), 219u);
  EXPECT_EQ(run(Kind::Body, "body1").size(), 73u);
  EXPECT_EQ(drain(), 120u);
  EXPECT_EQ(sqlCount(userDir(), "SELECT count(*) FROM search_words_pending"), 0);
  EXPECT_EQ(
      sqlCount(userDir(), "SELECT count(*) FROM search_words WHERE search_words MATCH 'common'"),
      219);
  const std::vector<std::uint32_t> second{uids[1]};
  ASSERT_TRUE(user_->storeFlags(inbox_, second, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(user_->expunge(inbox_, second));
  EXPECT_EQ(run(Kind::Body, "common").size(), 218u);
  EXPECT_EQ(drain(), 1u);
  EXPECT_EQ(
      sqlCount(userDir(), "SELECT count(*) FROM search_words WHERE search_words MATCH 'common'"),
      218);
  EXPECT_EQ(run(Kind::Body, "common").size(), 218u);
  EXPECT_EQ(run(Kind::Body, "body1").size(), 72u);
  EXPECT_EQ(run(Kind::Text, "old 2").size(), 31u);  // 2, 20-29, 200-219
  EXPECT_EQ(docMismatches(), 0);
}

// ---- brute force: a generated corpus, every answer checked against a scan of its known text

std::string asLatin1(std::string_view utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c == 0xc2 || c == 0xc3) {
      out += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(utf8[++i]) & 0x3f));
    } else {
      out += utf8[i];
    }
  }
  return out;
}

std::string quotedPrintable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t line = 0;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    std::string piece;
    if (c == '\n') {
      out += "\r\n";
      line = 0;
      continue;
    }
    if (c >= 33 && c <= 126 && c != '=') {
      piece = std::string(1, ch);
    } else if (c == ' ') {
      piece = " ";
    } else {
      piece = {'=', kHex[c >> 4], kHex[c & 15]};
    }
    if (line + piece.size() > 72) {
      out += "=\r\n";
      line = 0;
    }
    out += piece;
    line += piece.size();
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const auto byte = [&](std::size_t at) {
      return at < bytes.size() ? static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]))
                               : 0u;
    };
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
    if ((line += 4) >= 76) {
      out += "\r\n";
      line = 0;
    }
  }
  return out + "\r\n";
}

struct Generated {
  std::string raw;
  std::string header_text;  // what TEXT may match in the header, as decoded
  std::string body_text;    // what BODY matches, as decoded
  std::uint32_t uid = 0;
};

TEST_F(SearchIndexTest, AnswersEqualABruteForceScan) {
  const std::vector<std::string> words = {"alpha",
                                          "Bravo",
                                          "charlie",
                                          "DELTA",
                                          "echo",
                                          "foxtrot",
                                          "golf",
                                          "hotel",
                                          "india",
                                          "juliett",
                                          "kilo",
                                          "lima",
                                          "mike",
                                          "caf\xc3\xa9",
                                          "\xc3\x9c"
                                          "ber",
                                          "na\xc3\xafve",
                                          "stra\xc3\x9f"
                                          "e",
                                          "\xc3\x89"
                                          "COLE",
                                          "100%",
                                          "snake_case",
                                          "x",
                                          "QQ",
                                          "report",
                                          "Revenue",
                                          "CAF\xc3\x89",
                                          "\xc3\xa9"
                                          "cole"};
  std::mt19937 rng(20240310);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const auto sentence = [&](std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
      if (i > 0) out += pick(8) == 0 ? "\n" : " ";
      out += words[pick(words.size())];
    }
    return out;
  };
  // One text part in a random encoding and charset: its raw MIME header and body.
  const auto textPart = [&](const std::string& text, const std::string& subtype) {
    const bool latin1 = pick(3) == 0;
    const std::string bytes = latin1 ? asLatin1(text) : text;
    std::string header =
        "Content-Type: text/" + subtype + "; charset=" + (latin1 ? "iso-8859-1" : "utf-8") + "\r\n";
    std::string body;
    switch (pick(3)) {
      case 0:
        header += "Content-Transfer-Encoding: quoted-printable\r\n";
        body = quotedPrintable(bytes) + "\r\n";
        break;
      case 1:
        header += "Content-Transfer-Encoding: base64\r\n";
        body = base64(bytes);
        break;
      default:
        header += "Content-Transfer-Encoding: 8bit\r\n";
        for (const char c : bytes) body += c == '\n' ? std::string("\r\n") : std::string(1, c);
        body += "\r\n";
    }
    return std::make_pair(header, body);
  };

  std::vector<Generated> corpus;
  for (int n = 0; n < 260; ++n) {
    Generated g;
    const std::string subject = sentence(1 + pick(3));
    std::string subject_raw = subject;
    for (char& c : subject_raw) c = c == '\n' ? ' ' : c;
    const std::string subject_text = subject_raw;
    if (pick(2) == 0) {
      std::string encoded = base64(subject_text);
      encoded.erase(std::remove(encoded.begin(), encoded.end(), '\r'), encoded.end());
      encoded.erase(std::remove(encoded.begin(), encoded.end(), '\n'), encoded.end());
      subject_raw = "=?UTF-8?B?" + encoded + "?=";
    } else {
      subject_raw = subject_text;
    }
    g.raw = "From: gen@example.org\r\nSubject: " + subject_raw + "\r\nMIME-Version: 1.0\r\n";
    g.header_text = "From: gen@example.org\nSubject: " + subject_text + "\nMIME-Version: 1.0\n";
    const std::string first = sentence(5 + pick(60));
    if (pick(3) == 0) {
      const std::string second = sentence(5 + pick(20));
      const auto [h1, b1] = textPart(first, "plain");
      const auto [h2, b2] = textPart(second, "html");
      g.raw += "Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\n" + h1 + "\r\n" +
               b1 +
               "--zz\r\nContent-Type: application/octet-stream\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n" +
               base64(sentence(10)) + "--zz\r\n" + h2 + "\r\n" + b2 + "--zz--\r\n";
      g.header_text += "Content-Type: multipart/alternative; boundary=zz\n" + h1 +
                       "Content-Type: application/octet-stream\n"
                       "Content-Transfer-Encoding: base64\n" +
                       h2;
      g.header_text.erase(std::remove(g.header_text.begin(), g.header_text.end(), '\r'),
                          g.header_text.end());
      g.body_text = first + "\n" + second;
    } else {
      const auto [h1, b1] = textPart(first, "plain");
      g.raw += h1 + "\r\n" + b1;
      std::string fields = h1;
      fields.erase(std::remove(fields.begin(), fields.end(), '\r'), fields.end());
      g.header_text += fields;
      g.body_text = first;
    }
    g.uid = add(g.raw);
    corpus.push_back(std::move(g));
  }
  // The first 50 also in a small mailbox: its candidates are looked up document by document,
  // INBOX's through one query over the whole index (search.cc, kMaxDocLookups).
  ASSERT_TRUE(user_->createMailbox("Small"));
  const std::int64_t small = user_->mailbox("Small").value().id;
  std::vector<std::uint32_t> first_uids;
  for (std::size_t i = 0; i < 50; ++i) first_uids.push_back(corpus[i].uid);
  auto copied = user_->transfer(inbox_, first_uids, "Small", TransferMode::Copy);
  ASSERT_TRUE(copied) << copied.error().message;

  struct Query {
    Kind kind;
    std::string needle;
    U expected;
    U expected_small;
  };
  std::vector<Query> queries;
  for (int q = 0; q < 300; ++q) {
    std::string needle;
    const std::string& word = words[pick(words.size())];
    switch (pick(4)) {
      case 0:
        needle = word;
        break;
      case 1: {  // a substring, possibly 1 or 2 bytes (may cut a UTF-8 character)
        const std::size_t from = pick(word.size());
        needle = word.substr(from, 1 + pick(word.size() - from));
        break;
      }
      case 2:  // across two words
        needle = word + " " + words[pick(words.size())].substr(0, 1 + pick(3));
        break;
      default:
        needle = word + "zz";  // absent
    }
    for (char& c : needle) {
      if (pick(2) == 0 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    const Kind kind = pick(2) == 0 ? Kind::Body : Kind::Text;
    U expected;
    U expected_small;
    // i;unicode-casemap of the whole text, where the search works a chunk at a time and asks
    // the index for candidates.
    const std::string wanted = mime::casemapped(needle);
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      const Generated& g = corpus[i];
      const bool in_body = mime::casemapped(g.body_text).find(wanted) != std::string::npos;
      const bool in_header = mime::casemapped(g.header_text).find(wanted) != std::string::npos;
      if (!in_body && !(kind == Kind::Text && in_header)) continue;
      expected.push_back(g.uid);
      if (i < 50) expected_small.push_back(copied->destination.appended[i].uid);
    }
    queries.push_back({kind, needle, std::move(expected), std::move(expected_small)});
  }
  // Every answer must be the same whatever the index holds: nothing, part, all, or all but a
  // few documents (bodies without one are searched from the blob).
  const auto check = [&](const char* phase, std::size_t count) {
    std::size_t checked = 0;
    for (const Query& q : queries) {
      if (checked == count) break;
      const char* key = q.kind == Kind::Body ? "BODY " : "TEXT ";
      EXPECT_EQ(run(q.kind, q.needle), q.expected)
          << phase << ": " << key << '"' << q.needle << '"';
      EXPECT_EQ(run(q.kind, q.needle, small), q.expected_small)
          << phase << ": " << key << '"' << q.needle << "\" in Small";
      ++checked;
    }
    EXPECT_EQ(checked, count);
  };
  ASSERT_EQ(docs(), 0);
  ASSERT_EQ(pending(), static_cast<std::int64_t>(corpus.size()));
  check("all pending", 100);
  ASSERT_EQ(user_->indexPending(120).value(), 120u);
  check("part indexed", 100);
  EXPECT_EQ(drain(), corpus.size() - 120);
  ASSERT_EQ(docs(), static_cast<std::int64_t>(corpus.size()));
  EXPECT_EQ(docMismatches(), 0);
  check("all indexed", queries.size());
  // A few lose their document: searched from the blob, same answers.
  sqlExec(userDir(),
          "INSERT INTO search_words(search_words, rowid, header, body) "
          "SELECT 'delete', id, c0, c1 FROM search_text_content "
          "WHERE id IN (SELECT id FROM search_docs LIMIT 10);"
          "DELETE FROM search_text WHERE rowid IN (SELECT id FROM search_docs LIMIT 10);"
          "DELETE FROM search_docs WHERE id NOT IN (SELECT rowid FROM search_text);");
  ASSERT_EQ(docs(), static_cast<std::int64_t>(corpus.size()) - 10);
  EXPECT_EQ(docMismatches(), 0);
  check("ten without document", queries.size());
}

}  // namespace
}  // namespace popbridge::store
