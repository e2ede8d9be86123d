#include "store/names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace popbridge::store {
namespace {

TEST(MailboxName, InboxIsCaseInsensitive) {
  EXPECT_EQ(canonicalMailboxName("inbox").value(), "INBOX");
  EXPECT_EQ(canonicalMailboxName("InBoX").value(), "INBOX");
  EXPECT_EQ(canonicalMailboxName("inbox/Sub").value(), "INBOX/Sub");
  EXPECT_EQ(canonicalMailboxName("Inboxes").value(), "Inboxes");
  EXPECT_EQ(canonicalMailboxName("Work/inbox").value(), "Work/inbox");
}

TEST(MailboxName, OrdinaryNamesKeepTheirSpelling) {
  EXPECT_EQ(canonicalMailboxName("Sent").value(), "Sent");
  EXPECT_EQ(canonicalMailboxName("a/b/c").value(), "a/b/c");
  EXPECT_EQ(canonicalMailboxName("Entw\xC3\xBC rfe").value(), "Entw\xC3\xBC rfe");
  EXPECT_EQ(canonicalMailboxName("..x").value(), "..x");
}

TEST(MailboxName, RefusesBadNames) {
  for (const std::string& bad :
       std::vector<std::string>{"", "../x", "a/../b", "..", ".", "a/./b", "/a", "a/", "a//b",
                                "a\x01"
                                "b",
                                "tab\there", "del\x7f", std::string("nul\0x", 5)}) {
    auto result = canonicalMailboxName(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidName) << bad;
  }
  EXPECT_FALSE(canonicalMailboxName(std::string(kMaxMailboxNameBytes + 1, 'a')).has_value());
  EXPECT_FALSE(canonicalMailboxName(std::string(kMaxMailboxComponentBytes + 1, 'a')).has_value());
  EXPECT_TRUE(canonicalMailboxName(std::string(kMaxMailboxComponentBytes, 'a')).has_value());
}

TEST(MailboxName, RefusesWhatIsNotUtf8AndC1Controls) {
  EXPECT_TRUE(canonicalMailboxName("\xE6\x97\xA5\xE6\x9C\xAC").has_value());  // 日本
  EXPECT_TRUE(canonicalMailboxName("mail \xF0\x9F\x93\xA7").has_value());     // U+1F4E7
  for (const std::string& bad : std::vector<std::string>{"Entw\xFCrfe",       // Latin-1
                                                         "\xC3",              // cut short
                                                         "\xC0\xAF",          // overlong '/'
                                                         "\xE0\x80\xAF",      // overlong '/'
                                                         "\xED\xA0\x80",      // surrogate
                                                         "\xF4\x90\x80\x80",  // beyond U+10FFFF
                                                         "\xC2\x85",  // U+0085 NEL, a C1 control
                                                         "a\xFF"
                                                         "b"}) {
    auto result = canonicalMailboxName(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidName);
  }
}

TEST(UserName, RefusesBadNames) {
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", "../x", "x\ny", std::string("a\0b", 3)}) {
    auto result = validateUserName(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::InvalidName);
  }
  EXPECT_FALSE(validateUserName(std::string(kMaxUserNameBytes + 1, 'u')).has_value());
  EXPECT_TRUE(validateUserName("alice@example.org").has_value());
  EXPECT_TRUE(validateUserName("..alice").has_value());
}

TEST(Keyword, AtomsOnly) {
  EXPECT_TRUE(validateKeyword("$Forwarded").has_value());
  EXPECT_TRUE(validateKeyword("NonJunk").has_value());
  for (std::string bad : {"", "\\Seen", "two words", "a(b", "a*", "a%", "a]", "q\"", "x\r"}) {
    EXPECT_FALSE(validateKeyword(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace popbridge::store
