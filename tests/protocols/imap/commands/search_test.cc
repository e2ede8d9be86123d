#include "protocols/imap/commands/search.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;
using Kind = SearchKey::Kind;

// The key tree in prefix form, rebuilt from the flat vector by following `end`: a parenthesised
// list is "(...)", strings are <...>, dates are day numbers. Also checks that every subtree
// nests inside its parent (the invariant the evaluators rely on).
std::string tree(const SearchArgs& args) {
  std::string out;
  std::vector<std::uint32_t> ends;
  for (std::size_t i = 0; i < args.keys.size(); ++i) {
    while (!ends.empty() && ends.back() <= i) {
      out += ')';
      ends.pop_back();
    }
    const SearchKey& key = args.keys[i];
    EXPECT_GT(key.end, i);
    if (!ends.empty()) {
      EXPECT_LE(key.end, ends.back()) << "key " << i;
    }
    if (!out.empty() && out.back() != '(') {
      out += ' ';
    }
    switch (key.kind) {
      case Kind::And:
        out += '(';
        ends.push_back(key.end);
        continue;
      case Kind::Sequence:
        out += key.set.toString();
        continue;
      default:
        break;
    }
    out += std::string(searchKeyName(key.kind));
    if (!key.field.empty()) {
      out += " <" + key.field + ">";
    }
    if (!key.value.empty() || key.kind == Kind::Header || key.kind == Kind::Body ||
        key.kind == Kind::Text || key.kind == Kind::From || key.kind == Kind::Subject) {
      out += " <" + key.value + ">";
    }
    if (key.kind == Kind::Larger || key.kind == Kind::Smaller || key.kind == Kind::Modseq) {
      out += " " + std::to_string(key.number);
    }
    if (key.kind >= Kind::Before && key.kind <= Kind::SentSince) {
      out += " " + std::to_string(key.day);
    }
    if (key.kind == Kind::Uid) {
      out += " " + key.set.toString();
    }
    if (key.kind == Kind::Not || key.kind == Kind::Or) {
      out += '(';
      ends.push_back(key.end);
    }
  }
  for (std::size_t i = 0; i < ends.size(); ++i) {
    out += ')';
  }
  return out;
}

SearchArgs search(const std::string& line, bool uid = false) {
  Command command = readOneCommand(line);
  EXPECT_EQ(command.name, "SEARCH");
  EXPECT_EQ(command.uid, uid);
  if (auto* args = std::get_if<SearchArgs>(&command.args)) {
    return *args;
  }
  ADD_FAILURE() << "not SearchArgs: " << line;
  return {};
}

std::string parsed(const std::string& keys) { return tree(search("s SEARCH " + keys + "\r\n")); }

TEST(SearchTest, FlagKeys) {
  EXPECT_EQ(parsed("ALL"), "(ALL)");
  EXPECT_EQ(parsed("answered deleted Draft FLAGGED SEEN RECENT NEW OLD"),
            "(ANSWERED DELETED DRAFT FLAGGED SEEN RECENT NEW OLD)");
  EXPECT_EQ(parsed("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN"),
            "(UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN)");
  EXPECT_EQ(parsed("KEYWORD $Forwarded UNKEYWORD Junk"), "(KEYWORD <$Forwarded> UNKEYWORD <Junk>)");
}

TEST(SearchTest, StringKeysTakeAtomsQuotedStringsAndLiterals) {
  EXPECT_EQ(parsed("FROM alice"), "(FROM <alice>)");
  EXPECT_EQ(parsed("TO \"Bob Smith\" CC carol BCC \"\""), "(TO <Bob Smith> CC <carol> BCC)");
  EXPECT_EQ(parsed("SUBJECT {5+}\r\nhello BODY world"), "(SUBJECT <hello> BODY <world>)");
  EXPECT_EQ(parsed("TEXT \"say \\\"hi\\\"\""), "(TEXT <say \"hi\">)");
  EXPECT_EQ(parsed("HEADER X-Mailer \"\""), "(HEADER <X-Mailer> <>)");
  EXPECT_EQ(parsed("HEADER \"List-Id\" {4+}\r\ndev."), "(HEADER <List-Id> <dev.>)");
}

TEST(SearchTest, SynchronizingLiteralAsksForContinuation) {
  const std::string input = "s SEARCH CHARSET UTF-8 SUBJECT {6}\r\ncaf\xc3\xa9!\r\n";
  std::vector<ReadResult> events = test::readEverySplit(input);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<NeedContinuation>(events[0]));
  const auto& args = std::get<SearchArgs>(std::get<Command>(events[1]).args);
  EXPECT_EQ(args.charset, "UTF-8");
  EXPECT_EQ(tree(args), "(SUBJECT <caf\xc3\xa9!>)");
}

TEST(SearchTest, DatesAndSizes) {
  // 1-Feb-1994 is day 8797 since 1970-01-01.
  EXPECT_EQ(parsed("SINCE 1-Feb-1994"), "(SINCE 8797)");
  EXPECT_EQ(parsed("BEFORE \"01-feb-1994\" ON 29-Feb-2000"), "(BEFORE 8797 ON 11016)");
  EXPECT_EQ(parsed("SENTBEFORE 1-Jan-1970 SENTON 2-Jan-1970 SENTSINCE 31-Dec-1969"),
            "(SENTBEFORE 0 SENTON 1 SENTSINCE -1)");
  EXPECT_EQ(parsed("LARGER 1024 SMALLER 0"), "(LARGER 1024 SMALLER 0)");
  EXPECT_EQ(parsed("LARGER 9000000000"), "(LARGER 9000000000)");  // number64 (RFC 9051)
  EXPECT_EQ(parsed("MODSEQ 12"), "(MODSEQ 12)");
  EXPECT_EQ(parsed("MODSEQ \"/flags/\\\\draft\" all 620162338"), "(MODSEQ 620162338)");
}

TEST(SearchTest, SetsAndUid) {
  EXPECT_EQ(parsed("1:3,7,9:*"), "(1:3,7,9:*)");
  EXPECT_EQ(parsed("UID 100:* 2"), "(UID 100:* 2)");
  SearchArgs uid = search("s UID SEARCH UID 5:7 UNSEEN\r\n", true);
  EXPECT_EQ(tree(uid), "(UID 5:7 UNSEEN)");
}

TEST(SearchTest, SavedResultMarker) {
  // RFC 5182 2.1: "$" as a key (sequence numbers) and after UID.
  SearchArgs args = search("s SEARCH $ UID $ NOT $\r\n");
  EXPECT_EQ(tree(args), "($ UID $ NOT($))");
  EXPECT_TRUE(args.keys[1].set.saved);
  EXPECT_EQ(args.keys[1].kind, Kind::Sequence);
  EXPECT_TRUE(args.keys[2].set.saved);
  EXPECT_EQ(args.keys[2].kind, Kind::Uid);
}

TEST(SearchTest, Within) {
  // RFC 5032: OLDER / YOUNGER take seconds (nz-number).
  SearchArgs args = search("s SEARCH OLDER 3600 younger 4294967295\r\n");
  ASSERT_EQ(args.keys.size(), 3u);
  EXPECT_EQ(args.keys[1].kind, Kind::Older);
  EXPECT_EQ(args.keys[1].number, 3600u);
  EXPECT_EQ(args.keys[2].kind, Kind::Younger);
  EXPECT_EQ(args.keys[2].number, 4294967295u);
  EXPECT_EQ(searchKeyName(Kind::Older), "OLDER");
  EXPECT_EQ(searchKeyName(Kind::Younger), "YOUNGER");
}

TEST(SearchTest, ObjectIds) {
  // RFC 8474 6: EMAILID and THREADID take an objectid.
  SearchArgs args = search("s SEARCH emailid Eab_c-9 THREADID T0\r\n");
  ASSERT_EQ(args.keys.size(), 3u);
  EXPECT_EQ(args.keys[1].kind, Kind::EmailId);
  EXPECT_EQ(args.keys[1].value, "Eab_c-9");
  EXPECT_EQ(args.keys[2].kind, Kind::ThreadId);
  EXPECT_EQ(args.keys[2].value, "T0");
  EXPECT_EQ(searchKeyName(Kind::EmailId), "EMAILID");
  EXPECT_EQ(searchKeyName(Kind::ThreadId), "THREADID");
  EXPECT_EQ(search("s SEARCH EMAILID " + std::string(255, 'x') + "\r\n").keys[1].value.size(),
            255u);
}

TEST(SearchTest, ReturnOptions) {
  EXPECT_FALSE(search("s SEARCH ALL\r\n").returns.has_value());
  SearchArgs args = search("s SEARCH RETURN (min Max COUNT) CHARSET UTF-8 SEEN\r\n");
  ASSERT_TRUE(args.returns.has_value());
  EXPECT_TRUE(args.returns->min);
  EXPECT_TRUE(args.returns->max);
  EXPECT_TRUE(args.returns->count);
  EXPECT_FALSE(args.returns->all);
  EXPECT_FALSE(args.returns->save);
  EXPECT_EQ(args.charset, "UTF-8");
  EXPECT_EQ(tree(args), "(SEEN)");
  // RFC 4731 3.1: RETURN () is RETURN (ALL).
  args = search("s UID SEARCH RETURN () 1:*\r\n", true);
  ASSERT_TRUE(args.returns.has_value());
  EXPECT_TRUE(args.returns->all);
  EXPECT_FALSE(args.returns->min || args.returns->max || args.returns->count);
  args = search("s SEARCH RETURN (SAVE) $\r\n");
  EXPECT_TRUE(args.returns->save);
  EXPECT_FALSE(args.returns->all);
}

TEST(SearchTest, EsearchResponse) {
  std::string out;
  EsearchResponse response;
  response.tag = "A282";
  response.min = 2;
  response.max = 47;
  response.count = 12;
  appendEsearchResponse(out, response);
  EXPECT_EQ(out, "* ESEARCH (TAG \"A282\") MIN 2 MAX 47 COUNT 12\r\n");

  out.clear();
  response = EsearchResponse{};
  response.tag = "a.1";
  response.uid = true;
  response.all = std::vector<std::uint32_t>{1, 2, 3, 5, 7, 8, 4294967295u};
  response.modseq = 917162500;
  appendEsearchResponse(out, response);
  EXPECT_EQ(out, "* ESEARCH (TAG \"a.1\") UID ALL 1:3,5,7:8,4294967295 MODSEQ 917162500\r\n");

  // No match: ALL left out (its value cannot be empty), COUNT 0 kept (RFC 4731 3.1).
  out.clear();
  response = EsearchResponse{};
  response.tag = "t";
  response.all = std::vector<std::uint32_t>{};
  response.count = 0;
  appendEsearchResponse(out, response);
  EXPECT_EQ(out, "* ESEARCH (TAG \"t\") COUNT 0\r\n");

  out.clear();
  appendCompactSet(out, {});
  appendCompactSet(out, {4});
  EXPECT_EQ(out, "4");
}

TEST(SearchTest, NotOrAndParentheses) {
  EXPECT_EQ(parsed("NOT SEEN"), "(NOT(SEEN))");
  EXPECT_EQ(parsed("OR SEEN FLAGGED"), "(OR(SEEN FLAGGED))");
  EXPECT_EQ(parsed("OR (SEEN FROM a) NOT (UNSEEN 2:4) DELETED"),
            "(OR((SEEN FROM <a>) NOT((UNSEEN 2:4))) DELETED)");
  EXPECT_EQ(parsed("NOT NOT OR OR 1 2 OR 3 4 5"), "(NOT(NOT(OR(OR(1 2) OR(3 4)))) 5)");
  EXPECT_EQ(parsed("((((ALL))))"), "(((((ALL)))))");
  EXPECT_EQ(parsed("(SEEN) (DELETED UID 3)"), "((SEEN) (DELETED UID 3))");
}

TEST(SearchTest, FlatLayoutOffsets) {
  SearchArgs args = search("s SEARCH OR NOT SEEN (FROM x TO y) ALL\r\n");
  // 0 And, 1 Or, 2 Not, 3 Seen, 4 And, 5 From, 6 To, 7 All
  ASSERT_EQ(args.keys.size(), 8u);
  const std::vector<std::uint32_t> ends = {8, 7, 4, 4, 7, 6, 7, 8};
  for (std::size_t i = 0; i < ends.size(); ++i) {
    EXPECT_EQ(args.keys[i].end, ends[i]) << i;
  }
  EXPECT_EQ(args.keys[1].kind, Kind::Or);
  EXPECT_EQ(args.keys[4].kind, Kind::And);
}

TEST(SearchTest, Charset) {
  EXPECT_EQ(search("s SEARCH CHARSET utf-8 ALL\r\n").charset, "UTF-8");
  EXPECT_EQ(search("s SEARCH CHARSET \"ISO-8859-1\" FROM x\r\n").charset, "ISO-8859-1");
  EXPECT_FALSE(search("s SEARCH ALL\r\n").charset.has_value());
  EXPECT_TRUE(searchCharsetSupported("us-ascii"));
  EXPECT_TRUE(searchCharsetSupported("UTF-8"));
  EXPECT_FALSE(searchCharsetSupported("ISO-8859-1"));
  // A key that merely starts like CHARSET is not one.
  EXPECT_EQ(readOneError("s SEARCH CHARSETX ALL\r\n").kind, ParseError::Kind::Bad);
}

TEST(SearchTest, LongOrChainsDoNotRecurse) {
  // 20,000 nested NOTs and a 5,000-deep OR chain: bounded by the line only, parsed iteratively.
  std::string nots;
  for (int i = 0; i < 20000; ++i) nots += "NOT ";
  CommandText text{"s SEARCH " + nots + "SEEN", {}};
  Result<Command, ParseError> command = parseCommand(text);
  ASSERT_TRUE(command.has_value());
  const auto& args = std::get<SearchArgs>(command->args);
  ASSERT_EQ(args.keys.size(), 20002u);
  EXPECT_EQ(args.keys[1].end, 20002u);
  EXPECT_EQ(args.keys[20001].kind, Kind::Seen);

  std::string ors;
  for (int i = 0; i < 5000; ++i) ors += "OR " + std::to_string(i + 1) + " ";
  CommandText or_text{"s SEARCH " + ors + "ALL", {}};
  command = parseCommand(or_text);
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(std::get<SearchArgs>(command->args).keys.size(), 10002u);
}

TEST(SearchTest, ParenthesesDeeperThanTheLimitAreRefused) {
  Limits limits;
  std::string deep(limits.max_depth + 1, '(');
  deep += "ALL" + std::string(limits.max_depth + 1, ')');
  CommandText text{"s SEARCH " + deep, {}};
  ArgParser in(text, 8);
  auto args = parseSearchArgs(in, limits);
  ASSERT_FALSE(args.has_value());
  EXPECT_EQ(args.error().kind, ParseError::Kind::TooLong);

  std::string ok(limits.max_depth, '(');
  ok += "ALL" + std::string(limits.max_depth, ')');
  CommandText ok_text{"s SEARCH " + ok, {}};
  ArgParser ok_in(ok_text, 8);
  EXPECT_TRUE(parseSearchArgs(ok_in, limits).has_value());
}

TEST(SearchTest, SyntaxErrors) {
  for (const char* line : {
           "s SEARCH\r\n",
           "s SEARCH \r\n",
           "s SEARCH FOO\r\n",
           "s SEARCH NOT\r\n",
           "s SEARCH OR SEEN\r\n",
           "s SEARCH ()\r\n",
           "s SEARCH (SEEN\r\n",
           "s SEARCH SEEN)\r\n",
           "s SEARCH (SEEN )\r\n",
           "s SEARCH FROM\r\n",
           "s SEARCH HEADER Subject\r\n",
           "s SEARCH SINCE 1-Foo-2000\r\n",
           "s SEARCH SINCE 30-Feb-2000\r\n",
           "s SEARCH SINCE 1-Feb-94\r\n",
           "s SEARCH SINCE 001-Feb-1994\r\n",
           "s SEARCH LARGER x\r\n",
           "s SEARCH EMAILID\r\n",
           "s SEARCH EMAILID \"\"\r\n",
           "s SEARCH EMAILID a.b\r\n",
           "s SEARCH THREADID \"x y\"\r\n",
           "s SEARCH THREADID a%\r\n",
           "s SEARCH LARGER -1\r\n",
           "s SEARCH UID\r\n",
           "s SEARCH UID 0\r\n",
           "s SEARCH 0\r\n",
           "s SEARCH $:4\r\n",
           "s SEARCH UID 1,$\r\n",
           "s SEARCH KEYWORD \\Seen\r\n",
           "s SEARCH SEEN  DELETED\r\n",
           "s SEARCH ALL RETURN (ALL)\r\n",
           "s SEARCH CHARSET UTF-8 RETURN (ALL) ALL\r\n",
           "s SEARCH RETURN ALL\r\n",
           "s SEARCH RETURN (ALL)\r\n",
           "s SEARCH RETURN (FOO) ALL\r\n",
           "s SEARCH RETURN (MIN MIN) ALL\r\n",
           "s SEARCH RETURN (MIN  MAX) ALL\r\n",
           "s SEARCH RETURN (MIN\r\n",
           "s SEARCH OLDER\r\n",
           "s SEARCH OLDER 0\r\n",
           "s SEARCH YOUNGER 4294967296\r\n",
           "s SEARCH YOUNGER -5\r\n",
           "s SEARCH SEEN CHARSET UTF-8\r\n",
           "s SEARCH CHARSET\r\n",
           "s SEARCH CHARSET UTF-8\r\n",
           "s SEARCH MODSEQ \"/flags/x\" bogus 3\r\n",
       }) {
    ParseError error = readOneError(line);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << line;
    EXPECT_EQ(error.tag, "s") << line;
  }
}

TEST(SearchTest, DateParser) {
  EXPECT_EQ(parseSearchDate("1-Jan-1970").value(), 0);
  EXPECT_EQ(parseSearchDate("01-JAN-1970").value(), 0);
  EXPECT_EQ(parseSearchDate("31-Dec-2099").value(), 47481);
  EXPECT_EQ(parseSearchDate("29-Feb-2024").value(), 19782);
  EXPECT_FALSE(parseSearchDate("29-Feb-2023").has_value());
  EXPECT_FALSE(parseSearchDate("0-Jan-2023").has_value());
  EXPECT_FALSE(parseSearchDate("1-Jan-20233").has_value());
  EXPECT_FALSE(parseSearchDate("").has_value());
  EXPECT_FALSE(parseSearchDate("1-Ja-2023").has_value());
}

TEST(SearchTest, Response) {
  std::string out;
  appendSearchResponse(out, {});
  appendSearchResponse(out, {2, 5, 4294967295u});
  EXPECT_EQ(out, "* SEARCH\r\n* SEARCH 2 5 4294967295\r\n");
  // RFC 7162 3.1.5: the highest modseq of the matches; nothing when nothing matched.
  out.clear();
  appendSearchResponse(out, {}, 12);
  appendSearchResponse(out, {2, 5}, 917162500);
  EXPECT_EQ(out, "* SEARCH\r\n* SEARCH 2 5 (MODSEQ 917162500)\r\n");
}

TEST(SearchTest, RedactedHidesStrings) {
  Command command = readOneCommand(
      "a1 UID SEARCH CHARSET UTF-8 OR (FROM alice SINCE 1-Jan-1970) NOT SUBJECT secret "
      "HEADER X-Secret \"v\" KEYWORD $Junk 1:4 UID 9:* LARGER 10\r\n");
  EXPECT_EQ(command.redacted(),
            "a1 UID SEARCH CHARSET UTF-8 OR (FROM *** SINCE day0) NOT SUBJECT *** HEADER *** *** "
            "KEYWORD $Junk 1:4 UID 9:* LARGER 10");
  command = readOneCommand("a2 SEARCH RETURN (MIN SAVE) $ OLDER 60 UID $\r\n");
  EXPECT_EQ(command.redacted(), "a2 SEARCH RETURN (MIN SAVE) $ OLDER 60 UID $");
}

}  // namespace
}  // namespace popbridge::imap
