#include "protocols/imap/commands/append.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using namespace std::string_literals;
using test::dump;
using test::readEverySplit;
using test::readOneError;

TEST(AppendTest, FlagsDateAndSyncLiteral) {
  const std::string input =
      "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {21}\r\n"
      "Subject: hi\r\n\r\nbody\r\n\r\n";
  auto events = readEverySplit(input);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Continue 21");
  const Command& command = std::get<Command>(events[1]);
  const auto& args = std::get<AppendArgs>(command.args);
  EXPECT_EQ(args.mailbox, "saved-messages");
  ASSERT_EQ(args.messages.size(), 1u);
  EXPECT_EQ(args.messages[0].flags, (std::vector<std::string>{"\\Seen"}));
  EXPECT_EQ(args.messages[0].internal_date, " 7-Feb-1994 21:52:25 -0800");
  EXPECT_EQ(args.messages[0].message, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(args.messages[0].binary);
}

// RFC 3502 6.3.11: several messages, each with its own options, synchronizing literals,
// LITERAL+ and literal8 mixed.
TEST(AppendTest, Multiappend) {
  const std::string input =
      "a1 APPEND Sent (\\Seen) {2}\r\nhi {3+}\r\nyou"
      " \"01-Jan-2020 10:00:00 +0100\" ~{3}\r\nb\0n (\\Flagged $x) \"02-Jan-2020 00:00:00 +0000\" "
      "{0}"
      "\r\n\r\n"s;
  auto events = readEverySplit(input);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(dump(events[0]), "Continue 2");
  EXPECT_EQ(dump(events[1]), "Continue 3");
  EXPECT_EQ(dump(events[2]), "Continue 0");
  EXPECT_EQ(dump(events[3]),
            "Command a1 APPEND Append<Sent>[<\\Seen>]<-><hi>[]<-><you>"
            "[]<01-Jan-2020 10:00:00 +0100><b\0n> binary"
            "[<\\Flagged><$x>]<02-Jan-2020 00:00:00 +0000><>"s);
  const auto& args = std::get<AppendArgs>(std::get<Command>(events[3]).args);
  EXPECT_EQ(args.messages.size(), 4u);
}

TEST(AppendTest, MinimalFormAndInboxCase) {
  auto events = readEverySplit("a APPEND inbox {2+}\r\nhi\r\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(dump(events[0]), "Command a APPEND Append<INBOX>[]<-><hi>");
  auto empty_flags = readEverySplit("a APPEND Drafts () {2+}\r\nhi\r\n");
  EXPECT_EQ(dump(empty_flags.at(0)), "Command a APPEND Append<Drafts>[]<-><hi>");
}

TEST(AppendTest, SyntaxErrors) {
  for (const char* bad :
       {"a APPEND INBOX \"not a literal\"\r\n", "a APPEND INBOX\r\n", "a APPEND INBOX (\\Seen)\r\n",
        "a APPEND INBOX \"31-Feb-2020 00:00:00 +0000\" {1+}\r\nx\r\n",
        "a APPEND INBOX {1+}\r\nx (\\Seen)\r\n", "a APPEND INBOX {1+}\r\nx  {1+}\r\ny\r\n",
        "a APPEND INBOX {1+}\r\nx{1+}\r\ny\r\n",
        "a APPEND INBOX {1+}\r\nx \"not a date\" {1+}\r\ny\r\n"}) {
    ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "a") << bad;
  }
}

// RFC 6855 4: append-data =/ "UTF8" SP "(" literal8 ")".
TEST(AppendTest, Utf8DataForm) {
  const std::string input =
      "a1 APPEND INBOX (\\Seen) utf8 (~{4}\r\nSu\xc3\xa9) UTF8 ({2+}\r\nhi)\r\n";
  auto events = readEverySplit(input);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Continue 4");
  const auto& args = std::get<AppendArgs>(std::get<Command>(events[1]).args);
  ASSERT_EQ(args.messages.size(), 2u);
  EXPECT_TRUE(args.messages[0].utf8);
  EXPECT_TRUE(args.messages[0].binary);
  EXPECT_EQ(args.messages[0].message, "Su\xc3\xa9");
  EXPECT_TRUE(args.messages[1].utf8);
  EXPECT_FALSE(args.messages[1].binary);
  EXPECT_EQ(args.messages[1].message, "hi");
  EXPECT_EQ(std::get<Command>(events[1]).redacted(),
            "a1 APPEND INBOX (\\Seen) UTF8 (~{4}) UTF8 ({2})");
}

TEST(AppendTest, Utf8DataFormNeedsItsParentheses) {
  EXPECT_EQ(readOneError("a1 APPEND INBOX UTF8 {2+}\r\nhi\r\n").kind, ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("a1 APPEND INBOX UTF8 ({2+}\r\nhi\r\n").kind, ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("a1 APPEND INBOX UTF9 ({2+}\r\nhi)\r\n").kind, ParseError::Kind::Bad);
}

}  // namespace
}  // namespace popbridge::imap
