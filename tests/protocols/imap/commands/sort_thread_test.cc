#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/commands/sort.h"
#include "protocols/imap/commands/thread.h"
#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;

SortArgs sort(const std::string& line, bool uid = false) {
  Command command = readOneCommand(line);
  EXPECT_EQ(command.name, "SORT");
  EXPECT_EQ(command.uid, uid);
  if (auto* args = std::get_if<SortArgs>(&command.args)) return *args;
  ADD_FAILURE() << "not SortArgs: " << line;
  return {};
}

ThreadArgs thread(const std::string& line, bool uid = false) {
  Command command = readOneCommand(line);
  EXPECT_EQ(command.name, "THREAD");
  EXPECT_EQ(command.uid, uid);
  if (auto* args = std::get_if<ThreadArgs>(&command.args)) return *args;
  ADD_FAILURE() << "not ThreadArgs: " << line;
  return {};
}

TEST(SortArgsTest, CriteriaCharsetAndSearchKeys) {
  const SortArgs args = sort("s SORT (reverse Date SUBJECT ARRIVAL cc FROM SIZE TO) utf-8 ALL\r\n");
  const std::vector<SortCriterion> expected = {{SortKey::Date, true},     {SortKey::Subject, false},
                                               {SortKey::Arrival, false}, {SortKey::Cc, false},
                                               {SortKey::From, false},    {SortKey::Size, false},
                                               {SortKey::To, false}};
  EXPECT_EQ(args.criteria, expected);
  EXPECT_EQ(args.charset, "UTF-8");
  ASSERT_EQ(args.search.keys.size(), 2u);
  EXPECT_EQ(args.search.keys[1].kind, SearchKey::Kind::All);
  EXPECT_FALSE(args.search.charset);
}

TEST(SortArgsTest, UidFormQuotedCharsetLiteralKeys) {
  const SortArgs args = sort("s UID SORT (SUBJECT) \"US-ASCII\" FROM {5+}\r\nalice 1:*\r\n", true);
  ASSERT_EQ(args.criteria.size(), 1u);
  EXPECT_EQ(args.charset, "US-ASCII");
  ASSERT_EQ(args.search.keys.size(), 3u);
  EXPECT_EQ(args.search.keys[1].kind, SearchKey::Kind::From);
  EXPECT_EQ(args.search.keys[1].value, "alice");
  EXPECT_EQ(args.search.keys[2].kind, SearchKey::Kind::Sequence);
}

TEST(SortArgsTest, DisplayKeysAndEsortReturnOptions) {
  const SortArgs display = sort("s SORT (DisplayFrom REVERSE DISPLAYTO) UTF-8 ALL\r\n");
  const std::vector<SortCriterion> expected = {{SortKey::DisplayFrom, false},
                                               {SortKey::DisplayTo, true}};
  EXPECT_EQ(display.criteria, expected);
  EXPECT_FALSE(display.returns);

  const SortArgs esort = sort("s UID SORT return (min COUNT save) (SUBJECT) UTF-8 1:4\r\n", true);
  ASSERT_TRUE(esort.returns);
  EXPECT_TRUE(esort.returns->min);
  EXPECT_TRUE(esort.returns->count);
  EXPECT_TRUE(esort.returns->save);
  EXPECT_FALSE(esort.returns->max);
  EXPECT_FALSE(esort.returns->all);
  ASSERT_EQ(esort.criteria.size(), 1u);
  EXPECT_EQ(esort.criteria[0].key, SortKey::Subject);
  ASSERT_EQ(esort.search.keys.size(), 2u);
  EXPECT_EQ(esort.search.keys[1].kind, SearchKey::Kind::Sequence);

  // RFC 4731 3.1: RETURN () means ALL.
  const SortArgs empty = sort("s SORT RETURN () (SIZE) US-ASCII ALL\r\n");
  ASSERT_TRUE(empty.returns);
  EXPECT_TRUE(empty.returns->all);
  EXPECT_FALSE(empty.returns->min || empty.returns->max || empty.returns->count);
}

TEST(SortArgsTest, SyntaxErrors) {
  for (const char* bad : {
           "s SORT DATE UTF-8 ALL\r\n",              // criteria need parentheses
           "s SORT () UTF-8 ALL\r\n",                // at least one
           "s SORT (DATE) UTF-8\r\n",                // at least one search key
           "s SORT (DATE)\r\n",                      // charset is mandatory
           "s SORT (NAME) UTF-8 ALL\r\n",            // unknown key
           "s SORT (REVERSE) UTF-8 ALL\r\n",         // REVERSE needs a key
           "s SORT (DATE  SIZE) UTF-8 ALL\r\n",      // one space
           "s SORT (DATE) UTF-8 CHARSET X ALL\r\n",  // no second charset
           "s SORT RETURN (ALL) UTF-8 ALL\r\n",      // RETURN needs sort criteria after it
           "s SORT RETURN (PARTIAL 1:5) (DATE) UTF-8 ALL\r\n",  // no CONTEXT=SORT
           "s SORT RETURNS (ALL) (DATE) UTF-8 ALL\r\n",
           "s SORT (DATE) UTF-8 RETURN (ALL) ALL\r\n",  // RETURN goes before the criteria
           "s SORT RETURN (ALL)(DATE) UTF-8 ALL\r\n",
       }) {
    const ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "s") << bad;
  }
}

TEST(ThreadArgsTest, AlgorithmsAndKeys) {
  const ThreadArgs refs = thread("t THREAD references UTF-8 SUBJECT hello\r\n");
  EXPECT_EQ(refs.algorithm, ThreadAlgorithm::References);
  EXPECT_EQ(refs.charset, "UTF-8");
  ASSERT_EQ(refs.search.keys.size(), 2u);
  EXPECT_EQ(refs.search.keys[1].kind, SearchKey::Kind::Subject);
  const ThreadArgs ordered = thread("t UID THREAD ORDEREDSUBJECT us-ascii (OR SEEN 2:4)\r\n", true);
  EXPECT_EQ(ordered.algorithm, ThreadAlgorithm::OrderedSubject);
  EXPECT_EQ(ordered.charset, "US-ASCII");
  for (const char* bad : {"t THREAD REFS UTF-8 ALL\r\n", "t THREAD REFERENCES\r\n",
                          "t THREAD REFERENCES UTF-8\r\n", "t THREAD (REFERENCES) UTF-8 ALL\r\n"}) {
    EXPECT_EQ(readOneError(bad).kind, ParseError::Kind::Bad) << bad;
  }
}

TEST(SortArgsTest, RedactedLogFormHidesStrings) {
  Command command = readOneCommand("s UID SORT (REVERSE DATE CC) UTF-8 FROM secret SEEN\r\n");
  EXPECT_EQ(command.redacted(), "s UID SORT (REVERSE DATE CC) UTF-8 FROM *** SEEN");
  command = readOneCommand(
      "s SORT RETURN (MAX ALL) (DISPLAYTO REVERSE DISPLAYFROM SIZE) UTF-8 "
      "TO secret\r\n");
  EXPECT_EQ(command.redacted(),
            "s SORT RETURN (MAX ALL) (DISPLAYTO REVERSE DISPLAYFROM SIZE) UTF-8 TO ***");
  command = readOneCommand("t THREAD REFERENCES UTF-8 SUBJECT secret\r\n");
  EXPECT_EQ(command.redacted(), "t THREAD REFERENCES UTF-8 SUBJECT ***");
}

TEST(SortResponseTest, ExactBytes) {
  std::string out;
  appendSortResponse(out, {5, 3, 4});
  appendSortResponse(out, {});
  appendSortResponse(out, {2}, 917);
  appendSortResponse(out, {}, 917);
  EXPECT_EQ(out, "* SORT 5 3 4\r\n* SORT\r\n* SORT 2 (MODSEQ 917)\r\n* SORT\r\n");
}

}  // namespace
}  // namespace popbridge::imap
