#include "protocols/mailfile/maildir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace popbridge::mailfile {
namespace {

TEST(MaildirName, ParsesFlagsAndKeywordLetters) {
  const MaildirName name = parseMaildirName("1700000000.M1P2.host:2,FRSTDPca");
  EXPECT_EQ(name.unique, "1700000000.M1P2.host");
  EXPECT_EQ(name.system, kFlagged | kAnswered | kSeen | kDeleted | kDraft);
  EXPECT_EQ(name.keyword_letters, "ac");
}

TEST(MaildirName, PassedHasNoImapFlag) {
  EXPECT_EQ(parseMaildirName("x:2,P").system, 0u);
  EXPECT_EQ(parseMaildirName("x:2,PS").system, kSeen);
}

TEST(MaildirName, NoInfoNoFlags) {
  const MaildirName name = parseMaildirName("1700000000.M1P2.host");
  EXPECT_EQ(name.unique, "1700000000.M1P2.host");
  EXPECT_EQ(name.system, 0u);
  EXPECT_EQ(name.keyword_letters, "");
  EXPECT_EQ(parseMaildirName("x:1,experimental").system, 0u);
}

TEST(MaildirName, InfoIsInAsciiOrder) {
  EXPECT_EQ(maildirInfo(kSeen | kDraft | kAnswered | kFlagged | kDeleted, "ca"), ":2,DFRSTac");
  EXPECT_EQ(maildirInfo(0, ""), ":2,");
  EXPECT_EQ(exportFileName(1700000000, 7, 42, kSeen, ""), "1700000000.7_42.popbridge:2,S");
}

TEST(MaildirName, ExportNameRoundTrips) {
  const std::string name = exportFileName(1700000000, 12, 3, kFlagged | kAnswered, "b");
  const MaildirName parsed = parseMaildirName(name);
  EXPECT_EQ(parsed.unique, "1700000000.12_3.popbridge");
  EXPECT_EQ(parsed.system, kFlagged | kAnswered);
  EXPECT_EQ(parsed.keyword_letters, "b");
}

TEST(MaildirName, NaturalOrder) {
  std::vector<std::string> names = {"1700000000.10_1.popbridge:2,", "1700000000.9_1.popbridge:2,",
                                    "999999999.1_1.popbridge:2,", "1700000000.100_1.popbridge:2,S",
                                    "1700000001.2_1.popbridge:2,"};
  std::sort(names.begin(), names.end(), maildirNameLess);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "999999999.1_1.popbridge:2,", "1700000000.9_1.popbridge:2,",
                       "1700000000.10_1.popbridge:2,", "1700000000.100_1.popbridge:2,S",
                       "1700000001.2_1.popbridge:2,"}));
  EXPECT_FALSE(maildirNameLess("a", "a"));
  EXPECT_TRUE(maildirNameLess("a1", "a01") != maildirNameLess("a01", "a1"));
}

TEST(MaildirFolders, MaildirPlusPlusNames) {
  EXPECT_EQ(folderToMailbox(".Sent").value(), "Sent");
  EXPECT_EQ(folderToMailbox(".A.B").value(), "A/B");
  EXPECT_EQ(folderToMailbox(".Entw&APw-rfe").value(), "Entw&APw-rfe");
  for (const char* bad : {"Sent", ".", "..", ".A..B", ".A.", "cur"}) {
    EXPECT_FALSE(folderToMailbox(bad)) << bad;
  }
  EXPECT_EQ(mailboxToFolder("INBOX").value(), "");
  EXPECT_EQ(mailboxToFolder("Sent").value(), ".Sent");
  EXPECT_EQ(mailboxToFolder("A/B").value(), ".A.B");
  EXPECT_EQ(mailboxToFolder("INBOX/x").value(), ".INBOX.x");
  auto dotted = mailboxToFolder("Projects/v1.2");
  ASSERT_FALSE(dotted);
  EXPECT_NE(dotted.error().message.find("Projects/v1.2"), std::string::npos);
  EXPECT_EQ(folderToMailbox(mailboxToFolder("a/b/c").value()).value(), "a/b/c");
}

TEST(DovecotKeywords, ParseAndFormat) {
  const KeywordLetters letters = parseDovecotKeywords("0 $Forwarded\n2 Work\nbad line\n26 Z\n1 \n");
  EXPECT_EQ(letters[0], "$Forwarded");
  EXPECT_FALSE(letters[1]);
  EXPECT_EQ(letters[2], "Work");
  EXPECT_EQ(formatDovecotKeywords(letters), "0 $Forwarded\n2 Work\n");
}

TEST(CrlfWriter, ConvertsBareLfAtAnySplit) {
  const std::string input = "a\nb\r\nc\rd\n\n\r\n";
  const std::string want = "a\r\nb\r\nc\rd\r\n\r\n\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CrlfWriter writer;
    std::string out;
    writer.feed(std::string_view(input).substr(0, cut), out);
    writer.feed(std::string_view(input).substr(cut), out);
    EXPECT_EQ(out, want) << cut;
  }
}

}  // namespace
}  // namespace popbridge::mailfile
