#include "proxy/server/account_selection.h"

#include <gtest/gtest.h>

namespace popbridge::proxy {
namespace {

config::Config twoUsers() {
  config::Config config;
  config::User alice;
  alice.name = "alice";
  alice.accounts.resize(2);
  alice.accounts[0].name = "home";
  alice.accounts[1].name = "work";
  config::User bob;
  bob.name = "bob";
  bob.accounts.resize(1);
  bob.accounts[0].name = "work";
  config::User carol;
  carol.name = "carol";
  config.users = {alice, bob, carol};
  return config;
}

using Refs = std::vector<AccountRef>;

TEST(AccountSelectionTest, EmptyTargetIsEveryAccount) {
  EXPECT_EQ(selectAccounts(twoUsers(), "").value(),
            (Refs{{"alice", "home"}, {"alice", "work"}, {"bob", "work"}}));
  EXPECT_FALSE(selectAccounts(config::Config{}, ""));
}

TEST(AccountSelectionTest, UserAccountNamesOne) {
  EXPECT_EQ(selectAccounts(twoUsers(), "bob/work").value(), (Refs{{"bob", "work"}}));
  EXPECT_NE(selectAccounts(twoUsers(), "bob/home").error().find("no POP account \"home\""),
            std::string::npos);
  EXPECT_NE(selectAccounts(twoUsers(), "dave/home").error().find("no user \"dave\""),
            std::string::npos);
}

TEST(AccountSelectionTest, UserNameIsEveryAccountOfThatUser) {
  EXPECT_EQ(selectAccounts(twoUsers(), "alice").value(),
            (Refs{{"alice", "home"}, {"alice", "work"}}));
  EXPECT_NE(selectAccounts(twoUsers(), "carol").error().find("no POP accounts"), std::string::npos);
}

TEST(AccountSelectionTest, AccountNameMatchesAcrossUsers) {
  EXPECT_EQ(selectAccounts(twoUsers(), "work").value(), (Refs{{"alice", "work"}, {"bob", "work"}}));
  EXPECT_EQ(selectAccounts(twoUsers(), "home").value(), (Refs{{"alice", "home"}}));
  EXPECT_FALSE(selectAccounts(twoUsers(), "nothing"));
}

}  // namespace
}  // namespace popbridge::proxy
