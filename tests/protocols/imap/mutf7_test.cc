#include "protocols/imap/mutf7.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace popbridge::imap {
namespace {

std::string decoded(std::string_view text) {
  auto result = decodeMutf7(text);
  EXPECT_TRUE(result.has_value()) << text;
  return result ? *result : std::string("<error>");
}

TEST(Mutf7Test, RoundTripsRfc3501Examples) {
  // RFC 3501 5.1.3.
  const std::string taipei_japanese =
      "~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  EXPECT_EQ(decoded("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), taipei_japanese);
  EXPECT_EQ(encodeMutf7(taipei_japanese), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(encodeMutf7("Entw\xC3\xBCrfe"), "Entw&APw-rfe");
  EXPECT_EQ(decoded("Entw&APw-rfe"), "Entw\xC3\xBCrfe");
  EXPECT_EQ(encodeMutf7("Tom & Jerry"), "Tom &- Jerry");
  EXPECT_EQ(decoded("Tom &- Jerry"), "Tom & Jerry");
  EXPECT_EQ(encodeMutf7("INBOX"), "INBOX");
  EXPECT_EQ(encodeMutf7(""), "");
  // Outside the BMP: a surrogate pair (U+1F4E7).
  EXPECT_EQ(encodeMutf7("\xF0\x9F\x93\xA7"), "&2D3c5w-");
  EXPECT_EQ(decoded("&2D3c5w-"), "\xF0\x9F\x93\xA7");
  // Several characters in one run, and runs of every length modulo 3.
  for (const std::string& text :
       {std::string("\xC3\xA4"), std::string("\xC3\xA4\xC3\xB6"),
        std::string("\xC3\xA4\xC3\xB6\xC3\xBC"), std::string("a\xC3\xA4-b\xE2\x82\xAC&c")}) {
    EXPECT_EQ(decoded(encodeMutf7(text)), text) << encodeMutf7(text);
  }
}

TEST(Mutf7Test, RefusesEverythingButTheCanonicalForm) {
  for (const char* bad : {
           "&",                // unterminated
           "&APw",             // unterminated
           "Entw\xC3\xBCrfe",  // raw 8-bit
           "tab\there",        // control
           "&AGE-",            // 'a' encoded
           "&ACY-",            // '&' encoded
           "&APw-&APw-",       // two runs in a row
           "&APx-",            // non-zero padding bits
           "&APwA-",           // a sextet too many
           "&2D0-",            // lone high surrogate
           "&3gc-",            // lone low surrogate
           "&A/w-",            // '/' is not in the alphabet
           "&AP=-",            // '=' padding is not used
       }) {
    auto result = decodeMutf7(bad);
    EXPECT_FALSE(result.has_value()) << bad << " gave " << (result ? *result : "");
  }
  // Control characters encoded in BASE64 decode (the store refuses such names).
  EXPECT_EQ(decoded("&AAE-"), std::string("\x01"));
}

TEST(Mutf7Test, MalformedUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(encodeMutf7("a\xFF"
                        "b"),
            "a&,,0-b");
}

// RFC 6855 3 / RFC 9051 5.1: UTF-8 names pass unchanged when well-formed; '&' is plain text.
TEST(Mutf7Test, Utf8NamesAreCheckedNotDecoded) {
  for (std::string_view good : {"R\xc3\xa9sum\xc3\xa9", "A&B", "&AOk-", "\xef\xbf\xbd",
                                "\xf0\x9f\x93\xa7 mail", "\xe6\x97\xa5\xe6\x9c\xac", ""}) {
    auto result = checkUtf8Name(good);
    ASSERT_TRUE(result.has_value()) << good;
    EXPECT_EQ(*result, good);
  }
  const std::vector<std::string_view> bad_names = {"bad\xff",
                                                   "bad\xc3",
                                                   "\xc0\xaf",
                                                   "\xed\xa0\x80",
                                                   "\xf4\x90\x80\x80",
                                                   "a\x7f",
                                                   "a\x01"
                                                   "b",
                                                   "\xc2\x85",
                                                   std::string_view("a\0b", 3),
                                                   "\xe6\x97"};
  for (std::string_view bad : bad_names) {
    auto result = checkUtf8Name(bad);
    EXPECT_FALSE(result.has_value()) << testing::PrintToString(std::string(bad));
    if (!result) {
      EXPECT_EQ(result.error().kind, ParseError::Kind::Bad);
    }
  }
}

}  // namespace
}  // namespace popbridge::imap
