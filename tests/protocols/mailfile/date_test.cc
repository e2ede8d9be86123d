#include "protocols/mailfile/date.h"

#include <gtest/gtest.h>

namespace popbridge::mailfile {
namespace {

TEST(MailDate, Asctime) {
  EXPECT_EQ(parseAsctimeDate("Sat Nov 28 12:15:17 2026"), (MailTime{1795868117, 0}));
  EXPECT_EQ(parseAsctimeDate("Thu Jan  1 00:00:00 1970"), (MailTime{0, 0}));
  EXPECT_EQ(parseAsctimeDate("Thu Jan  1 01:00:00 1970 +0100"), (MailTime{0, 60}));
  EXPECT_EQ(parseAsctimeDate("Thu Jan  1 00:00:00 -0130 1970"), (MailTime{5400, -90}));
  EXPECT_EQ(parseAsctimeDate("Thu Jan  1 00:00:00 CET 1970"), (MailTime{0, 0}));
  EXPECT_FALSE(parseAsctimeDate("someone@example.org Sat Nov 28 12:15:17 2026"));
  EXPECT_FALSE(parseAsctimeDate("Sat Nov 28 2026"));
  EXPECT_FALSE(parseAsctimeDate("Sat Nov 28 25:15:17 2026"));
  EXPECT_FALSE(parseAsctimeDate(""));
}

TEST(MailDate, Rfc5322) {
  EXPECT_EQ(parseRfc5322Date("Tue, 1 Jul 2003 10:52:37 +0200"), (MailTime{1057049557, 120}));
  EXPECT_EQ(parseRfc5322Date("1 Jul 2003 08:52:37 GMT"), (MailTime{1057049557, 0}));
  EXPECT_EQ(parseRfc5322Date("Tue,  1 Jul 03 03:52:37 EST (comment)"),
            (MailTime{1057049557, -300}));
  EXPECT_EQ(parseRfc5322Date("Tue, 1 Jul 2003 08:52 +0000"), (MailTime{1057049520, 0}));
  EXPECT_EQ(parseRfc5322Date("1 Jul 2003 08:52:37"), (MailTime{1057049557, 0}));
  EXPECT_FALSE(parseRfc5322Date("yesterday"));
  EXPECT_FALSE(parseRfc5322Date("Tue, 1 Foo 2003 08:52:37 +0000"));
  EXPECT_FALSE(parseRfc5322Date("Tue, 32 Jul 2003 08:52:37 +0000"));
}

}  // namespace
}  // namespace popbridge::mailfile
