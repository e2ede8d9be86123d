#include "protocols/imap/command.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;

TEST(CommandTest, NamesAreCaseInsensitive) {
  for (const char* input : {"a NOOP\r\n", "a noop\r\n", "a NoOp\r\n"}) {
    Command command = readOneCommand(input);
    EXPECT_EQ(command.name, "NOOP");
  }
}

TEST(CommandTest, EveryArgumentlessCommand) {
  for (const char* name : {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT",
                           "EXPUNGE", "IDLE", "NAMESPACE", "UNAUTHENTICATE"}) {
    Command command = readOneCommand(std::string("t ") + name + "\r\n");
    EXPECT_EQ(command.name, name);
    EXPECT_FALSE(command.uid);
  }
  ParseError error = readOneError("t NOOP extra\r\n");
  EXPECT_EQ(error.kind, ParseError::Kind::Bad);
  EXPECT_EQ(error.tag, "t");
  EXPECT_EQ(readOneError("u UNAUTHENTICATE now\r\n").kind, ParseError::Kind::Bad);
}

TEST(CommandTest, ExpungeHasNoUidSet) {
  Command command = readOneCommand("t EXPUNGE\r\n");
  EXPECT_FALSE(std::get<ExpungeArgs>(command.args).uids.has_value());
}

TEST(CommandTest, UidVariants) {
  Command fetch = readOneCommand("t uid fetch 1:* FLAGS\r\n");
  EXPECT_TRUE(fetch.uid);
  EXPECT_EQ(fetch.name, "FETCH");
  Command store = readOneCommand("t UID STORE 5 +FLAGS (\\Seen)\r\n");
  EXPECT_TRUE(store.uid);
  EXPECT_EQ(store.name, "STORE");
  Command copy = readOneCommand("t UID COPY 1,2 Archive\r\n");
  EXPECT_TRUE(copy.uid);
  EXPECT_EQ(std::get<CopyArgs>(copy.args).mailbox, "Archive");
  Command move = readOneCommand("t UID MOVE 3:4 Trash\r\n");
  EXPECT_EQ(move.name, "MOVE");
  EXPECT_TRUE(move.uid);
  Command expunge = readOneCommand("t UID EXPUNGE 3:5,9\r\n");
  EXPECT_TRUE(expunge.uid);
  EXPECT_EQ(std::get<ExpungeArgs>(expunge.args).uids->toString(), "3:5,9");
}

TEST(CommandTest, UidBeforeOtherCommandsIsBad) {
  ParseError error = readOneError("t UID NOOP\r\n");
  EXPECT_EQ(error.kind, ParseError::Kind::Bad);
  EXPECT_EQ(error.tag, "t");
  EXPECT_EQ(readOneError("t UID\r\n").kind, ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("t UID EXPUNGE\r\n").kind, ParseError::Kind::Bad);
}

TEST(CommandTest, UnimplementedCommandsAreUnknown) {
  EXPECT_EQ(readOneError("t GETMETADATA \"\" /shared/comment\r\n").kind,
            ParseError::Kind::UnknownCommand);
  ParseError error = readOneError("t UID XSNIPPET 1:* (LAZY=FUZZY)\r\n");
  EXPECT_EQ(error.kind, ParseError::Kind::UnknownCommand);
  EXPECT_EQ(error.tag, "t");
}

TEST(CommandTest, TagsMayHoldOddCharacters) {
  EXPECT_EQ(readOneCommand("A0001 NOOP\r\n").tag, "A0001");
  EXPECT_EQ(readOneCommand("a.b-c]~ NOOP\r\n").tag, "a.b-c]~");
  EXPECT_EQ(readOneError("a+b NOOP\r\n").tag, "");  // '+' is not allowed in a tag
  EXPECT_EQ(readOneError("tag\r\n").tag, "tag");
  EXPECT_EQ(readOneError(" NOOP\r\n").tag, "");
}

TEST(CommandTest, RedactedHidesLoginPassword) {
  Command command = readOneCommand("a1 LOGIN alice \"s3cr3t pw\"\r\n");
  EXPECT_EQ(command.redacted(), "a1 LOGIN alice ***");
  Command literal = readOneCommand("a1 LOGIN {5+}\r\nalice {6+}\r\nhunter\r\n");
  EXPECT_EQ(literal.redacted(), "a1 LOGIN alice ***");
  EXPECT_EQ(literal.redacted().find("hunter"), std::string::npos);
}

TEST(CommandTest, RedactedHidesSaslInitialResponse) {
  Command command = readOneCommand("a2 AUTHENTICATE plain AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(command.redacted(), "a2 AUTHENTICATE PLAIN ***");
  EXPECT_EQ(readOneCommand("a2 AUTHENTICATE PLAIN\r\n").redacted(), "a2 AUTHENTICATE PLAIN");
}

TEST(CommandTest, RedactedShowsAppendSizeOnly) {
  Command command = readOneCommand(
      "a3 APPEND Sent (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {11+}\r\nHello world\r\n");
  EXPECT_EQ(command.redacted(), "a3 APPEND Sent (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {11}");
  Command multi = readOneCommand("a4 APPEND Sent {5+}\r\nHello ($x) ~{2+}\r\nhi\r\n");
  EXPECT_EQ(multi.redacted(), "a4 APPEND Sent {5} ($x) ~{2}");
}

TEST(CommandTest, RedactedOtherCommandsAreOneLine) {
  EXPECT_EQ(readOneCommand("a UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)\r\n")
                .redacted(),
            "a UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)");
  EXPECT_EQ(readOneCommand("a STORE 1 -FLAGS.SILENT \\Deleted\r\n").redacted(),
            "a STORE 1 -FLAGS.SILENT (\\Deleted)");
  // Mailbox names cannot hold control bytes (modified UTF-7, RFC 3501 5.1.3); a user name can.
  EXPECT_EQ(readOneCommand("a LOGIN {6+}\r\nx\r\ny\tz pw\r\n").redacted(),
            "a LOGIN \"x\\x0d\\x0ay\\x09z\" ***");
  EXPECT_EQ(readOneCommand("a LIST \"\" *\r\n").redacted(), "a LIST \"\" *");
  EXPECT_EQ(readOneCommand("a STATUS INBOX (MESSAGES UNSEEN)\r\n").redacted(),
            "a STATUS INBOX (MESSAGES UNSEEN)");
  EXPECT_EQ(readOneCommand("a ID NIL\r\n").redacted(), "a ID NIL");
  EXPECT_EQ(readOneCommand("a UID EXPUNGE 4\r\n").redacted(), "a UID EXPUNGE 4");
  EXPECT_EQ(readOneCommand("a MOVE 4 \"Junk Mail\"\r\n").redacted(), "a MOVE 4 \"Junk Mail\"");
  const std::string long_name(300, 'm');
  const std::string redacted = readOneCommand("a CREATE " + long_name + "\r\n").redacted();
  EXPECT_LT(redacted.size(), 120u);
  EXPECT_NE(redacted.find("..."), std::string::npos);
}

}  // namespace
}  // namespace popbridge::imap
