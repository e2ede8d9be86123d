#include "protocols/imap/encoder.h"

#include <gtest/gtest.h>

#include <vector>

namespace popbridge::imap {
namespace {

using namespace std::string_literals;

std::string astring(std::string_view s) {
  std::string out;
  appendAstring(out, s);
  return out;
}

std::string string(std::string_view s) {
  std::string out;
  appendString(out, s);
  return out;
}

TEST(EncoderTest, AstringChoosesAtomQuotedOrLiteral) {
  EXPECT_EQ(astring("INBOX"), "INBOX");
  EXPECT_EQ(astring("a]b"), "a]b");
  EXPECT_EQ(astring(""), "\"\"");
  EXPECT_EQ(astring("NIL"), "\"NIL\"");
  EXPECT_EQ(astring("nil"), "\"nil\"");
  EXPECT_EQ(astring("Sent Items"), "\"Sent Items\"");
  EXPECT_EQ(astring("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(astring("50%"), "\"50%\"");
  EXPECT_EQ(astring("x(y)"), "\"x(y)\"");
  EXPECT_EQ(astring("a{1}"), "\"a{1}\"");
  EXPECT_EQ(astring("line\r\nbreak"), "{11}\r\nline\r\nbreak");
  EXPECT_EQ(astring("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  EXPECT_EQ(astring("nul\0"s), "{4}\r\nnul\0"s);
}

TEST(EncoderTest, StringIsNeverAnAtom) {
  EXPECT_EQ(string("INBOX"), "\"INBOX\"");
  EXPECT_EQ(string(""), "\"\"");
  EXPECT_EQ(string("a\nb"), "{3}\r\na\nb");
}

TEST(EncoderTest, NString) {
  std::string out;
  appendNString(out, std::nullopt);
  out += ' ';
  appendNString(out, std::string("NIL"));
  out += ' ';
  appendNString(out, std::string());
  EXPECT_EQ(out, "NIL \"NIL\" \"\"");
}

TEST(EncoderTest, LiteralHeaderAndFlagList) {
  std::string out;
  appendLiteralHeader(out, 0);
  appendLiteralHeader(out, 12345678901ull);
  EXPECT_EQ(out, "{0}\r\n{12345678901}\r\n");
  out.clear();
  const std::vector<std::string> flags = {"\\Seen", "$Label1"};
  appendFlagList(out, flags);
  appendFlagList(out, {});
  EXPECT_EQ(out, "(\\Seen $Label1)()");
}

TEST(EncoderTest, StatusResponses) {
  std::string out;
  appendTagged(out, "a1", Status::Ok, "READ-WRITE", "SELECT completed");
  appendTagged(out, "a2", Status::No, "", "no such mailbox");
  appendTagged(out, "a3", Status::Bad, "", "");
  appendUntaggedStatus(out, Status::Ok, "UIDVALIDITY 3857529045", "UIDs valid");
  appendUntaggedStatus(out, Status::Bye, "", "logging out");
  appendUntaggedStatus(out, Status::PreAuth, "CAPABILITY IMAP4rev1", "");
  EXPECT_EQ(out,
            "a1 OK [READ-WRITE] SELECT completed\r\n"
            "a2 NO no such mailbox\r\n"
            "a3 BAD\r\n"
            "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
            "* BYE logging out\r\n"
            "* PREAUTH [CAPABILITY IMAP4rev1]\r\n");
}

TEST(EncoderTest, StatusTextCannotEndTheLine) {
  std::string out;
  appendTagged(out, "a\r\n", Status::No, "X\n", "bad\r\n* OK injected");
  EXPECT_EQ(out, "a   NO [X ] bad  * OK injected\r\n");
}

TEST(DateTimeTest, Formats) {
  std::string out;
  appendDateTime(out, 837596665, -420);  // 1996-07-17 09:44:25 UTC
  EXPECT_EQ(out, "\"17-Jul-1996 02:44:25 -0700\"");
  out.clear();
  appendDateTime(out, 0, 0);
  EXPECT_EQ(out, "\" 1-Jan-1970 00:00:00 +0000\"");
  out.clear();
  appendDateTime(out, 760686745, -480);  // 1994-02-08 05:52:25 UTC
  EXPECT_EQ(out, "\" 7-Feb-1994 21:52:25 -0800\"");
  out.clear();
  appendDateTime(out, 1709164800, 330);  // 2024-02-29 00:00:00 UTC
  EXPECT_EQ(out, "\"29-Feb-2024 05:30:00 +0530\"");
  out.clear();
  appendDateTime(out, -1, -90);  // before the epoch, half-hour negative offset
  EXPECT_EQ(out, "\"31-Dec-1969 22:29:59 -0130\"");
  out.clear();
  appendDateTime(out, 3600, 24 * 60);  // out-of-range offset: shown in UTC
  EXPECT_EQ(out, "\" 1-Jan-1970 01:00:00 +0000\"");
  out.clear();
  appendDateTime(out, INT64_MAX, 0);
  EXPECT_EQ(out, "\"31-Dec-9999 23:59:59 +0000\"");
}

TEST(DateTimeTest, ParsesAndRoundTrips) {
  auto parsed = parseDateTime("17-Jul-1996 02:44:25 -0700");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, 837596665);
  EXPECT_EQ(parsed->second, -420);
  for (const char* text : {" 7-Feb-1994 21:52:25 -0800", "7-feb-1994 21:52:25 -0800",
                           "07-FEB-1994 21:52:25 -0800", "\" 7-Feb-1994 21:52:25 -0800\""}) {
    auto same = parseDateTime(text);
    ASSERT_TRUE(same) << text;
    EXPECT_EQ(same->first, 760686745) << text;
    EXPECT_EQ(same->second, -480) << text;
  }
  for (std::int64_t t :
       {std::int64_t{0}, std::int64_t{-86401}, std::int64_t{951782400}, std::int64_t{4102444799}}) {
    for (int offset : {0, 60, -90, 840, -720}) {
      std::string out;
      appendDateTime(out, t, offset);
      auto back = parseDateTime(out);
      ASSERT_TRUE(back) << out;
      EXPECT_EQ(back->first, t) << out;
      EXPECT_EQ(back->second, offset) << out;
    }
  }
}

TEST(DateTimeTest, RejectsInvalid) {
  for (const char* bad :
       {"", "17-Jul-1996", "17-Jux-1996 02:44:25 -0700", "32-Jul-1996 02:44:25 -0700",
        "29-Feb-2023 00:00:00 +0000", "00-Jan-2000 00:00:00 +0000", "17-Jul-96 02:44:25 -0700",
        "17-Jul-1996 24:00:00 -0700", "17-Jul-1996 02:60:25 -0700", "17-Jul-1996 02:44:61 -0700",
        "17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 -07000", "17-Jul-1996 02:44:25 -0760",
        "17-Jul-1996 2:44:25 -0700", "17-Jul-1996  02:44:25 -0700",
        "117-Jul-1996 02:44:25 -0700"}) {
    auto parsed = parseDateTime(bad);
    EXPECT_FALSE(parsed) << bad;
  }
  EXPECT_TRUE(parseDateTime("29-Feb-2000 00:00:00 +0000"));
  EXPECT_TRUE(parseDateTime("30-Jun-2015 23:59:60 +0000"));  // leap second
}

TEST(EncoderTest, UidSet) {
  auto set = [](std::vector<std::uint32_t> uids) {
    std::string out;
    appendUidSet(out, uids);
    return out;
  };
  EXPECT_EQ(set({}), "");
  EXPECT_EQ(set({7}), "7");
  EXPECT_EQ(set({1, 2, 3, 7}), "1:3,7");
  EXPECT_EQ(set({1, 3, 5, 6, 4294967294u, 4294967295u}), "1,3,5:6,4294967294:4294967295");
}

// RFC 7162 3.2.10.
TEST(EncoderTest, Vanished) {
  std::string out;
  appendVanished(out, std::vector<std::uint32_t>{}, Vanished::Now);
  EXPECT_EQ(out, "");
  appendVanished(out, std::vector<std::uint32_t>{3, 4, 5, 9}, Vanished::Now);
  appendVanished(out, std::vector<std::uint32_t>{41, 43}, Vanished::Earlier);
  EXPECT_EQ(out, "* VANISHED 3:5,9\r\n* VANISHED (EARLIER) 41,43\r\n");
}

// RFC 9051 9 / RFC 6855 3: a UTF-8 name is quoted with its 8-bit bytes; 7-bit names and the
// modified UTF-7 spelling come out as appendAstring() writes them.
TEST(EncoderTest, MailboxNameInUtf8OrModifiedUtf7) {
  auto encode = [](std::string_view name, MailboxNames names) {
    std::string out;
    appendMailboxName(out, name, names);
    return out;
  };
  EXPECT_EQ(encode("R\xc3\xa9sum\xc3\xa9", MailboxNames::Utf8), "\"R\xc3\xa9sum\xc3\xa9\"");
  EXPECT_EQ(encode("\xc3\xa9 \"q\" \\", MailboxNames::Utf8), "\"\xc3\xa9 \\\"q\\\" \\\\\"");
  EXPECT_EQ(encode("INBOX", MailboxNames::Utf8), "INBOX");
  EXPECT_EQ(encode("A&B", MailboxNames::Utf8), "A&B");
  EXPECT_EQ(encode("two words", MailboxNames::Utf8), "\"two words\"");
  EXPECT_EQ(encode("R&AOk-sum&AOk-", MailboxNames::Mutf7), "R&AOk-sum&AOk-");
  EXPECT_EQ(encode("\xc3\xa9", MailboxNames::Mutf7), "{2}\r\n\xc3\xa9");
  EXPECT_EQ(encode("\xc3\xa9\r\n", MailboxNames::Utf8), "{4}\r\n\xc3\xa9\r\n");
}

}  // namespace
}  // namespace popbridge::imap
