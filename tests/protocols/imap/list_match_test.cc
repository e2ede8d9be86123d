#include <gtest/gtest.h>

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

TEST(ListMatchTest, Wildcards) {
  EXPECT_TRUE(listMatch("*", "", '/'));
  EXPECT_TRUE(listMatch("*", "a/b/c", '/'));
  EXPECT_TRUE(listMatch("%", "abc", '/'));
  EXPECT_FALSE(listMatch("%", "a/b", '/'));
  EXPECT_TRUE(listMatch("%/%", "a/b", '/'));
  EXPECT_FALSE(listMatch("%/%", "a/b/c", '/'));
  EXPECT_TRUE(listMatch("a/*", "a/b/c", '/'));
  EXPECT_FALSE(listMatch("a/*", "a", '/'));
  EXPECT_TRUE(listMatch("a*", "a", '/'));
  EXPECT_TRUE(listMatch("*c", "a/b/c", '/'));
  EXPECT_TRUE(listMatch("a%c", "abbc", '/'));
  EXPECT_FALSE(listMatch("a%c", "ab/c", '/'));
  EXPECT_TRUE(listMatch("comp.mail.*", "comp.mail.misc", '.'));
  EXPECT_FALSE(listMatch("comp.mail.%", "comp.mail.misc.x", '.'));
  EXPECT_FALSE(listMatch("", "a", '/'));
  EXPECT_TRUE(listMatch("", "", '/'));
  EXPECT_FALSE(listMatch("abc", "abcd", '/'));
  EXPECT_FALSE(listMatch("Work", "work", '/'));
}

TEST(ListMatchTest, InboxIsCaseInsensitive) {
  EXPECT_TRUE(listMatch("inbox", "INBOX", '/'));
  EXPECT_TRUE(listMatch("INBOX", "inbox", '/'));
  EXPECT_TRUE(listMatch("Inbox/%", "INBOX/Sub", '/'));
  EXPECT_FALSE(listMatch("Inbox/sub", "INBOX/Sub", '/'));
  EXPECT_FALSE(listMatch("inboxes", "INBOXES", '/'));
  EXPECT_TRUE(listMatch("IN%", "inbox", '/'));
}

TEST(ListMatchTest, PathologicalPatternIsFast) {
  // Backtracking matchers take exponential time here.
  const std::string name(2000, 'a');
  std::string pattern;
  for (int i = 0; i < 200; ++i) {
    pattern += "*a";
  }
  EXPECT_TRUE(listMatch(pattern, name, '/'));
  EXPECT_FALSE(listMatch(pattern + "b", name, '/'));
  EXPECT_FALSE(listMatch(std::string(50, '%') + "b", name, '/'));
}

}  // namespace
}  // namespace popbridge::imap
