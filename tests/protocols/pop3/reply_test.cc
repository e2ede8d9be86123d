#include "protocols/pop3/reply.h"

#include <gtest/gtest.h>

namespace popbridge::pop3 {
namespace {

Status parsed(std::string_view line) {
  auto status = parseStatusLine(line);
  EXPECT_TRUE(status.has_value()) << line;
  return status.value_or(Status{});
}

TEST(StatusLine, OkAndErr) {
  EXPECT_EQ(parsed("+OK 2 messages (320 octets)"), (Status{true, "", "2 messages (320 octets)"}));
  EXPECT_EQ(parsed("-ERR no such message"), (Status{false, "", "no such message"}));
  EXPECT_EQ(parsed("+OK"), (Status{true, "", ""}));
  EXPECT_EQ(parsed("-ERR"), (Status{false, "", ""}));
  EXPECT_EQ(parsed("+ok lower"), (Status{true, "", "lower"}));
  EXPECT_EQ(parsed("-Err mixed"), (Status{false, "", "mixed"}));
  EXPECT_EQ(parsed("+OK  \t spaced out \t "), (Status{true, "", "spaced out"}));
}

TEST(StatusLine, RespCodes) {
  // RFC 2449 section 8.
  EXPECT_EQ(parsed("-ERR [IN-USE] Do you have another POP session running?"),
            (Status{false, "IN-USE", "Do you have another POP session running?"}));
  EXPECT_EQ(parsed("-ERR [SYS/TEMP] busy"), (Status{false, "SYS/TEMP", "busy"}));
  EXPECT_EQ(parsed("-ERR [sys/perm] gone"), (Status{false, "SYS/PERM", "gone"}));
  EXPECT_EQ(parsed("-ERR [LOGIN-DELAY]"), (Status{false, "LOGIN-DELAY", ""}));
  EXPECT_EQ(parsed("-ERR [AUTH]Bad login"), (Status{false, "AUTH", "Bad login"}));
  EXPECT_EQ(parsed("+OK [X-VENDOR/SUB/LEAF] fine"), (Status{true, "X-VENDOR/SUB/LEAF", "fine"}));
}

TEST(StatusLine, BracketsThatAreNotCodesStayText) {
  EXPECT_EQ(parsed("-ERR [not a code] text"), (Status{false, "", "[not a code] text"}));
  EXPECT_EQ(parsed("-ERR [unclosed"), (Status{false, "", "[unclosed"}));
  EXPECT_EQ(parsed("-ERR [] empty"), (Status{false, "", "[] empty"}));
  EXPECT_EQ(parsed("-ERR [SYS//TEMP] x"), (Status{false, "", "[SYS//TEMP] x"}));
  EXPECT_EQ(parsed("-ERR [/SYS] x"), (Status{false, "", "[/SYS] x"}));
  EXPECT_EQ(parsed("-ERR text [IN-USE]"), (Status{false, "", "text [IN-USE]"}));
}

TEST(StatusLine, Garbage) {
  for (std::string_view line : {"", "OK", "+OKAY", "-ERROR", "+", "+ abc", " +OK", "* OK"}) {
    auto status = parseStatusLine(line);
    ASSERT_FALSE(status.has_value()) << line;
    EXPECT_EQ(status.error().message, "malformed status line");
  }
}

}  // namespace
}  // namespace popbridge::pop3
