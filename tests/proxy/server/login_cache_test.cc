#include "proxy/imap/login_cache.h"

#include <gtest/gtest.h>

#include <chrono>

namespace popbridge::proxy::imap {
namespace {

using namespace std::chrono_literals;

const LoginCache::Clock::time_point kStart{std::chrono::hours(1000)};

TEST(LoginCache, MatchesOnlyTheRememberedPasswordForThatUserAndHash) {
  LoginCache cache;
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "secret", kStart));
  cache.remember("alice", "$6$h1", "secret", kStart);
  EXPECT_TRUE(cache.matches("alice", "$6$h1", "secret", kStart + 1s));
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "Secret", kStart + 1s));
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "secret2", kStart + 1s));
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "", kStart + 1s));
  EXPECT_FALSE(cache.matches("bob", "$6$h1", "secret", kStart + 1s));
  EXPECT_EQ(cache.sizeForTest(), 1U);
}

TEST(LoginCache, AChangedConfiguredHashMisses) {
  LoginCache cache;
  cache.remember("alice", "$6$h1", "secret", kStart);
  // A reload gave alice another hash (perhaps of the same password): check again.
  EXPECT_FALSE(cache.matches("alice", "$6$h2", "secret", kStart));
  cache.remember("alice", "$6$h2", "new", kStart);
  EXPECT_FALSE(cache.matches("alice", "$6$h2", "secret", kStart));
  EXPECT_TRUE(cache.matches("alice", "$6$h2", "new", kStart));
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "new", kStart));
  EXPECT_EQ(cache.sizeForTest(), 1U);
}

TEST(LoginCache, EntriesAgeOut) {
  LoginCache cache(60s);
  cache.remember("alice", "$6$h1", "secret", kStart);
  EXPECT_TRUE(cache.matches("alice", "$6$h1", "secret", kStart + 59s));
  EXPECT_FALSE(cache.matches("alice", "$6$h1", "secret", kStart + 60s));
  cache.remember("alice", "$6$h1", "secret", kStart + 60s);
  EXPECT_TRUE(cache.matches("alice", "$6$h1", "secret", kStart + 100s));
}

TEST(LoginCache, TwoCachesDoNotShareDigests) {
  // Each cache has its own random key; the same password must still match in each.
  LoginCache a;
  LoginCache b;
  a.remember("alice", "$6$h1", "secret", kStart);
  b.remember("alice", "$6$h1", "secret", kStart);
  EXPECT_TRUE(a.matches("alice", "$6$h1", "secret", kStart));
  EXPECT_TRUE(b.matches("alice", "$6$h1", "secret", kStart));
}

}  // namespace
}  // namespace popbridge::proxy::imap
