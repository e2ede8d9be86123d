#include "protocols/mime/casemap.h"

#include <gtest/gtest.h>

namespace popbridge::mime {
namespace {

TEST(Casemap, AsciiIsUppercased) {
  EXPECT_EQ(casemapped("Hello, World 42!"), "HELLO, WORLD 42!");
  EXPECT_EQ(casemapped(""), "");
}

TEST(Casemap, AccentedLettersDecomposeToTheBaseLetter) {
  // RFC 5051 2: titlecase, then canonical decomposition.
  EXPECT_EQ(casemapped("\xc3\xa9"), "E\xcc\x81");   // é
  EXPECT_EQ(casemapped("\xc3\x89"), "E\xcc\x81");   // É
  EXPECT_EQ(casemapped("e\xcc\x81"), "E\xcc\x81");  // e + combining acute
  EXPECT_EQ(casemapped("\xc3\xa4\xc3\x84"),
            "A\xcc\x88"
            "A\xcc\x88");                                      // äÄ
  EXPECT_EQ(casemapped("\xc3\xb6"), "O\xcc\x88");              // ö
  EXPECT_EQ(casemapped("\xe1\xbb\x87"), "E\xcc\xa3\xcc\x82");  // ệ: two marks, table order
  EXPECT_EQ(casemapped("\xe2\x84\xaa"), "K");                  // Kelvin sign
}

TEST(Casemap, LettersWithoutDecompositionKeepTheirCapital) {
  EXPECT_EQ(casemapped("\xc3\xb8"), "\xc3\x98");  // ø -> Ø (no decomposition)
  EXPECT_EQ(casemapped("\xc3\x98"), "\xc3\x98");
  EXPECT_EQ(casemapped("\xc3\x9f"), "\xc3\x9f");  // ß has no simple titlecase
  EXPECT_EQ(casemapped("\xc4\xb1"), "I");         // dotless ı -> I
}

TEST(Casemap, GreekCyrillicArmenianFullwidth) {
  // σ, ς and Σ are one letter.
  EXPECT_EQ(casemapped("\xcf\x83"), "\xce\xa3");
  EXPECT_EQ(casemapped("\xcf\x82"), "\xce\xa3");
  EXPECT_EQ(casemapped("\xce\xa3"), "\xce\xa3");
  EXPECT_EQ(casemapped("\xce\xac"), "\xce\x91\xcc\x81");  // ά -> Α + acute
  EXPECT_EQ(casemapped("\xd0\xb4"), "\xd0\x94");          // д -> Д
  EXPECT_EQ(casemapped("\xd0\x94"), "\xd0\x94");
  EXPECT_EQ(casemapped("\xd1\x91"), "\xd0\x95\xcc\x88");  // ё -> Е + diaeresis
  EXPECT_EQ(casemapped("\xd5\xa1"), "\xd4\xb1");          // Armenian ա -> Ա
  EXPECT_EQ(casemapped("\xef\xbd\x81"), "\xef\xbc\xa1");  // fullwidth a -> A
  // Titlecase is not uppercase: the dz digraph maps to its titlecase form.
  EXPECT_EQ(casemapped("\xc7\x86"), "\xc7\x85");
}

TEST(Casemap, OtherScriptsPassThrough) {
  EXPECT_EQ(casemapped("\xe6\x97\xa5\xe6\x9c\xac"), "\xe6\x97\xa5\xe6\x9c\xac");  // 日本
  EXPECT_EQ(casemapped("\xea\xb0\x80"), "\xea\xb0\x80");          // Hangul: not in UnicodeData.txt
  EXPECT_EQ(casemapped("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // emoji
}

TEST(Casemap, InvalidUtf8PassesThroughUnchanged) {
  EXPECT_EQ(casemapped("a\xff"
                       "b"),
            "A\xff"
            "B");
  EXPECT_EQ(casemapped("\xc3"), "\xc3");  // truncated
  EXPECT_EQ(casemapped("\xc3"
                       "a"),
            "\xc3"
            "A");                                         // lead byte without continuation
  EXPECT_EQ(casemapped("\xc0\xa9"), "\xc0\xa9");          // overlong
  EXPECT_EQ(casemapped("\xed\xa0\x80"), "\xed\xa0\x80");  // surrogate
  EXPECT_EQ(casemapped("\xe9t\xe9"), "\xe9T\xe9");        // Latin-1, not UTF-8
  EXPECT_EQ(casemapped(std::string_view("a\0b", 3)), std::string("A\0B", 3));
}

TEST(Casemap, CompleteUtf8Prefix) {
  EXPECT_EQ(completeUtf8Prefix("abc"), 3U);
  EXPECT_EQ(completeUtf8Prefix("ab\xc3"), 2U);
  EXPECT_EQ(completeUtf8Prefix("ab\xc3\xa9"), 4U);
  EXPECT_EQ(completeUtf8Prefix("a\xe2\x84"), 1U);
  EXPECT_EQ(completeUtf8Prefix("a\xf0\x9f\x98"), 1U);
  EXPECT_EQ(completeUtf8Prefix("a\xf0\x9f\x98\x80"), 5U);
  EXPECT_EQ(completeUtf8Prefix(""), 0U);
}

TEST(Casemap, IndexHelpers) {
  EXPECT_EQ(nonAsciiSourcesOf('A'), std::vector<std::string>{});
  EXPECT_EQ(nonAsciiSourcesOf('K'), std::vector<std::string>{"\xe2\x84\xaa"});
  EXPECT_EQ(nonAsciiSourcesOf('I'), std::vector<std::string>{"\xc4\xb1"});
  EXPECT_EQ(nonAsciiSourcesOf('S'), std::vector<std::string>{"\xc5\xbf"});
  for (const std::string& source : nonAsciiSourcesOf('S')) EXPECT_EQ(casemapped(source), "S");
  EXPECT_TRUE(isCasemapTrailing(0x301));
  EXPECT_FALSE(isCasemapTrailing('A'));
  EXPECT_FALSE(isCasemapTrailing(0x394));
  EXPECT_TRUE(startsWithCasemapTrailing("\xcc\x81X"));
  EXPECT_FALSE(startsWithCasemapTrailing("X\xcc\x81"));
  EXPECT_FALSE(startsWithCasemapTrailing("\xcc"));
  EXPECT_FALSE(startsWithCasemapTrailing(""));
}

}  // namespace
}  // namespace popbridge::mime
