#include "protocols/pop3/parsers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace popbridge::pop3 {
namespace {

using ::testing::ElementsAre;

TEST(Capabilities, TypicalServer) {
  // The body lines of a Dovecot-like CAPA reply (RFC 2449 section 5).
  const std::vector<std::string> lines = {"CAPA",
                                          "TOP",
                                          "UIDL",
                                          "RESP-CODES",
                                          "PIPELINING",
                                          "AUTH-RESP-CODE",
                                          "STLS",
                                          "USER",
                                          "SASL PLAIN LOGIN xoauth2",
                                          "LOGIN-DELAY 900",
                                          "EXPIRE NEVER",
                                          "IMPLEMENTATION Shlemazle-Plotz-v302"};
  const Capabilities caps = parseCapabilities(lines);
  EXPECT_TRUE(caps.top);
  EXPECT_TRUE(caps.uidl);
  EXPECT_TRUE(caps.user);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.stls);
  EXPECT_TRUE(caps.resp_codes);
  EXPECT_TRUE(caps.auth_resp_code);
  EXPECT_THAT(caps.sasl, ElementsAre("PLAIN", "LOGIN", "XOAUTH2"));
  EXPECT_EQ(caps.login_delay, 900u);
  EXPECT_EQ(caps.expire_days, std::numeric_limits<std::uint32_t>::max());
  EXPECT_EQ(caps.implementation, "Shlemazle-Plotz-v302");
}

TEST(Capabilities, NothingAdvertised) {
  EXPECT_EQ(parseCapabilities({}), Capabilities{});
  const std::vector<std::string> lines = {"", "   ", "X-UNKNOWN 1 2", "TOPX", "UIDLS"};
  EXPECT_EQ(parseCapabilities(lines), Capabilities{});
}

TEST(Capabilities, CaseBlanksAndArguments) {
  const std::vector<std::string> lines = {"top ",
                                          "Uidl",
                                          "sasl  cram-md5\tPLAIN plain",
                                          "login-delay 0 USER",
                                          "expire 31 USER",
                                          "implementation   some   free text  ",
                                          "pipelining"};
  const Capabilities caps = parseCapabilities(lines);
  EXPECT_TRUE(caps.top);
  EXPECT_TRUE(caps.uidl);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_FALSE(caps.stls);
  EXPECT_THAT(caps.sasl, ElementsAre("CRAM-MD5", "PLAIN"));
  EXPECT_EQ(caps.login_delay, 0u);
  EXPECT_EQ(caps.expire_days, 31u);
  EXPECT_EQ(caps.implementation, "some   free text");
}

TEST(Capabilities, BadValuesAreIgnored) {
  const std::vector<std::string> lines = {"LOGIN-DELAY soon", "EXPIRE -1", "SASL"};
  const Capabilities caps = parseCapabilities(lines);
  EXPECT_EQ(caps.login_delay, std::nullopt);
  EXPECT_EQ(caps.expire_days, std::nullopt);
  EXPECT_TRUE(caps.sasl.empty());
  const std::vector<std::string> overflow = {"LOGIN-DELAY 4294967296", "EXPIRE", "EXPIRE never"};
  const Capabilities caps2 = parseCapabilities(overflow);
  EXPECT_EQ(caps2.login_delay, std::nullopt);
  EXPECT_EQ(caps2.expire_days, std::numeric_limits<std::uint32_t>::max());
}

TEST(Capabilities, ExpireAndLoginDelayPerUser) {
  // RFC 2449 6.7: "EXPIRE 0" means retrieved mail may be deleted at once; "USER" says the value
  // after login may differ.
  const std::vector<std::string> zero = {"EXPIRE 0"};
  EXPECT_EQ(parseCapabilities(zero).expire_days, 0u);
  EXPECT_FALSE(parseCapabilities(zero).expire_user);
  const std::vector<std::string> user = {"EXPIRE 5 user", "LOGIN-DELAY 60 USER"};
  const Capabilities caps = parseCapabilities(user);
  EXPECT_EQ(caps.expire_days, 5u);
  EXPECT_TRUE(caps.expire_user);
  EXPECT_EQ(caps.login_delay, 60u);
  EXPECT_TRUE(caps.login_delay_user);
  const std::vector<std::string> never = {"EXPIRE NEVER USER"};
  EXPECT_TRUE(parseCapabilities(never).expire_user);
  // A USER flag on an unreadable value is dropped with the value.
  const std::vector<std::string> bad = {"EXPIRE soon USER", "LOGIN-DELAY x USER"};
  EXPECT_FALSE(parseCapabilities(bad).expire_user);
  EXPECT_FALSE(parseCapabilities(bad).login_delay_user);
  const std::vector<std::string> other = {"EXPIRE 5 FOO"};
  EXPECT_FALSE(parseCapabilities(other).expire_user);
}

TEST(Uidl, ValidLines) {
  EXPECT_EQ(parseUidlLine("1 whqtswO00WBw418f9t5JxYwZ").value(),
            (UidlEntry{1, "whqtswO00WBw418f9t5JxYwZ"}));
  EXPECT_EQ(parseUidlLine("4294967295 QhdPYR:00WBw1Ph7x7").value(),
            (UidlEntry{4294967295u, "QhdPYR:00WBw1Ph7x7"}));
  EXPECT_EQ(parseUidlLine("  2\t~!x  ").value(), (UidlEntry{2, "~!x"}));
  EXPECT_EQ(parseUidlLine("3 " + std::string(70, 'u')).value(),
            (UidlEntry{3, std::string(70, 'u')}));
}

TEST(Uidl, Junk) {
  for (std::string_view bad : {"", "1", "1 ", "x abc", "0 abc", "-1 abc", "+1 abc",
                               "4294967296 abc", "1 abc def", "1abc", "1 ab\x7f", "1 ab\x80"}) {
    EXPECT_FALSE(parseUidlLine(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parseUidlLine("1 " + std::string(71, 'u')).has_value());
  EXPECT_FALSE(parseUidlLine(std::string("1 ab\0c", 6)).has_value());
}

TEST(List, ValidLines) {
  EXPECT_EQ(parseListLine("1 120").value(), (ListEntry{1, 120}));
  EXPECT_EQ(parseListLine("2 200 extra words").value(), (ListEntry{2, 200}));
  EXPECT_EQ(parseListLine(" 3  18446744073709551615 ").value(),
            (ListEntry{3, 18446744073709551615u}));
}

TEST(List, Junk) {
  for (std::string_view bad :
       {"", "1", "0 120", "a 120", "1 12a", "1 -5", "1 18446744073709551616", "4294967296 1"}) {
    EXPECT_FALSE(parseListLine(bad).has_value()) << bad;
  }
}

TEST(Stat, ValidAndJunk) {
  EXPECT_EQ(parseStat("2 320").value(), (StatInfo{2, 320}));
  EXPECT_EQ(parseStat("0 0").value(), (StatInfo{0, 0}));
  EXPECT_EQ(parseStat("5 1000 messages waiting").value(), (StatInfo{5, 1000}));
  for (std::string_view bad : {"", "2", "two 320", "2 lots", "2, 320", "-1 0"}) {
    EXPECT_FALSE(parseStat(bad).has_value()) << bad;
  }
}

TEST(ApopBanner, Found) {
  // RFC 1939 section 7 example.
  EXPECT_EQ(apopBanner("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            "<1896.697170952@dbc.mtview.ca.us>");
  EXPECT_EQ(apopBanner("Dovecot ready. <1a2b.3c4d@host>"), "<1a2b.3c4d@host>");
  // The first candidate with msg-id shape wins.
  EXPECT_EQ(apopBanner("<no at> <a b@c> <<x@y> <1@z>"), "<x@y>");
}

TEST(ApopBanner, Absent) {
  EXPECT_EQ(apopBanner(""), std::nullopt);
  EXPECT_EQ(apopBanner("POP3 server ready"), std::nullopt);
  EXPECT_EQ(apopBanner("ready <not-a-msg-id>"), std::nullopt);
  EXPECT_EQ(apopBanner("ready <1@host"), std::nullopt);
  EXPECT_EQ(apopBanner("ready 1@host>"), std::nullopt);
  EXPECT_EQ(apopBanner("ready <>"), std::nullopt);
  EXPECT_EQ(apopBanner("ready <a@b\tc>"), std::nullopt);
  EXPECT_EQ(apopBanner(std::string(5000, '<') + "x"), std::nullopt);
}

}  // namespace
}  // namespace popbridge::pop3
