#include "protocols/imap/commands/store.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;

StoreArgs store(const std::string& line) {
  Command command = readOneCommand(line);
  EXPECT_EQ(command.name, "STORE");
  if (auto* args = std::get_if<StoreArgs>(&command.args)) {
    return *args;
  }
  return {};
}

TEST(StoreTest, Modes) {
  StoreArgs replace = store("s STORE 1 FLAGS (\\Seen $Forwarded)\r\n");
  EXPECT_EQ(replace.mode, StoreArgs::Mode::Replace);
  EXPECT_FALSE(replace.silent);
  EXPECT_EQ(replace.flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));

  StoreArgs add = store("s STORE 1:3 +flags.silent (\\Deleted)\r\n");
  EXPECT_EQ(add.mode, StoreArgs::Mode::Add);
  EXPECT_TRUE(add.silent);
  EXPECT_EQ(add.set.toString(), "1:3");

  StoreArgs remove = store("s STORE 2,4 -FLAGS \\Seen \\Flagged\r\n");
  EXPECT_EQ(remove.mode, StoreArgs::Mode::Remove);
  EXPECT_EQ(remove.flags, (std::vector<std::string>{"\\Seen", "\\Flagged"}));

  StoreArgs clear = store("s STORE 1 FLAGS ()\r\n");
  EXPECT_TRUE(clear.flags.empty());
}

TEST(StoreTest, UnchangedSince) {
  StoreArgs args = store("s UID STORE 7 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Seen)\r\n");
  EXPECT_EQ(args.unchanged_since, 320162338u);
  EXPECT_EQ(store("s STORE 7 (unchangedsince 0) FLAGS ()\r\n").unchanged_since, 0u);
}

TEST(StoreTest, SyntaxErrors) {
  for (const char* bad :
       {"s STORE 1 FLAGS\r\n", "s STORE 1 +FLAGS.LOUD (\\Seen)\r\n",
        "s STORE 1 *FLAGS (\\Seen)\r\n", "s STORE 1 FLAGS (\\Seen\r\n", "s STORE 1 FLAGS (\\)\r\n",
        "s STORE 1 FLAGS (\"x\")\r\n", "s STORE 1 (FOO 1) FLAGS ()\r\n", "s STORE FLAGS ()\r\n",
        "s STORE 1 FLAGS () x\r\n"}) {
    ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "s") << bad;
  }
}

}  // namespace
}  // namespace popbridge::imap
