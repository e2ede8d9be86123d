#include "protocols/imap/commands/select.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::dumpArgs;
using test::readOneCommand;
using test::readOneError;

TEST(SelectTest, PlainAndExamine) {
  Command select = readOneCommand("s SELECT InBoX\r\n");
  EXPECT_EQ(select.name, "SELECT");
  EXPECT_EQ(std::get<SelectArgs>(select.args).mailbox, "INBOX");
  Command examine = readOneCommand("s EXAMINE \"Sent Items\"\r\n");
  EXPECT_EQ(examine.name, "EXAMINE");
  EXPECT_EQ(std::get<SelectArgs>(examine.args).mailbox, "Sent Items");
  EXPECT_EQ(std::get<SelectArgs>(readOneCommand("s SELECT INBOX.sub\r\n").args).mailbox,
            "INBOX.sub");
}

TEST(SelectTest, CondstoreAndQresync) {
  EXPECT_EQ(dumpArgs(readOneCommand("s SELECT INBOX (CONDSTORE)\r\n").args),
            "Select<INBOX> condstore");
  EXPECT_EQ(
      dumpArgs(readOneCommand("s SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n").args),
      "Select<INBOX> qresync 67890007 20050715194045000 - - -");
  EXPECT_EQ(dumpArgs(readOneCommand(
                         "s SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n")
                         .args),
            "Select<INBOX> qresync 67890007 90060115194045000 41:211,214:541 - -");
  EXPECT_EQ(
      dumpArgs(readOneCommand("s SELECT M (QRESYNC (1 2 1:9 (1,5 10,50)) CONDSTORE)\r\n").args),
      "Select<M> condstore qresync 1 2 1:9 1,5 10,50");
  EXPECT_EQ(dumpArgs(readOneCommand("s SELECT M (QRESYNC (1 2 (1 10)))\r\n").args),
            "Select<M> qresync 1 2 - 1 10");
}

TEST(SelectTest, SyntaxErrors) {
  for (const char* bad :
       {"s SELECT\r\n", "s SELECT INBOX (FOO)\r\n", "s SELECT INBOX (QRESYNC (0 1))\r\n",
        "s SELECT INBOX (QRESYNC (1 0))\r\n", "s SELECT INBOX (QRESYNC (1))\r\n",
        "s SELECT INBOX (CONDSTORE\r\n", "s SELECT a b\r\n"}) {
    ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "s") << bad;
  }
}

}  // namespace
}  // namespace popbridge::imap
