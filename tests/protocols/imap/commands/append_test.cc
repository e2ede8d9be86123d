#include "protocols/imap/commands/append.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

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
  EXPECT_EQ(args.flags, (std::vector<std::string>{"\\Seen"}));
  EXPECT_EQ(args.internal_date, " 7-Feb-1994 21:52:25 -0800");
  EXPECT_EQ(args.message, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_FALSE(args.binary);
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
        "a APPEND INBOX {1+}\r\nx {1+}\r\ny\r\n"}) {
    ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "a") << bad;
  }
}

}  // namespace
}  // namespace popbridge::imap
