#include <gtest/gtest.h>

#include "proxy/imap/flags.h"

namespace popbridge::proxy::imap {
namespace {

TEST(ImapFlagsTest, SystemFlagsMatchCaseInsensitivelyAndKeywordsSortUnique) {
  auto flags = parseFlags({"\\seen", "\\FLAGGED", "$Label", "$Forwarded", "$Label"});
  ASSERT_TRUE(flags);
  EXPECT_EQ(flags->system, store::kSeen | store::kFlagged);
  EXPECT_EQ(flags->keywords, (std::vector<std::string>{"$Forwarded", "$Label"}));
  std::string out;
  appendStoreFlags(out, *flags);
  EXPECT_EQ(out, "(\\Flagged \\Seen $Forwarded $Label)");
}

TEST(ImapFlagsTest, RecentAndUnknownSystemFlagsAndBadKeywordsAreRefused) {
  EXPECT_FALSE(parseFlags({"\\Recent"}));
  EXPECT_FALSE(parseFlags({"\\Important"}));
  EXPECT_FALSE(parseFlags({"bad(keyword"}));
  EXPECT_FALSE(parseFlags({""}));
}

TEST(ImapFlagsTest, EmptyFlagsEncodeAsEmptyList) {
  std::string out;
  appendStoreFlags(out, store::Flags{});
  EXPECT_EQ(out, "()");
}

}  // namespace
}  // namespace popbridge::proxy::imap
