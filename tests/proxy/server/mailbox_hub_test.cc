#include "proxy/server/mailbox_hub.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace popbridge::proxy {
namespace {

store::ChangeSet changeIn(std::int64_t mailbox_id, std::uint64_t modseq) {
  store::ChangeSet changes;
  changes.mailbox_id = mailbox_id;
  changes.highestmodseq = modseq;
  return changes;
}

TEST(MailboxHubTest, DeliversOnlyToSubscribersOfThatUsersMailbox) {
  MailboxHub hub;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> delivered;  // session, modseq
  hub.setDeliver([&](std::uint64_t id, const store::ChangeSet& changes) {
    delivered.emplace_back(id, changes.highestmodseq);
  });
  hub.subscribe("alice", 1, 10);
  hub.subscribe("alice", 1, 11);
  hub.subscribe("alice", 2, 12);
  hub.subscribe("bob", 1, 13);

  EXPECT_EQ(hub.publish("alice", changeIn(1, 7)), 2u);
  EXPECT_EQ(delivered, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{10, 7}, {11, 7}}));

  delivered.clear();
  EXPECT_EQ(hub.publish("bob", changeIn(1, 8)), 1u);
  EXPECT_EQ(delivered, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{13, 8}}));
}

TEST(MailboxHubTest, UnsubscribedSessionsHearNothingAndEmptyEntriesVanish) {
  MailboxHub hub;
  int deliveries = 0;
  hub.setDeliver([&](std::uint64_t, const store::ChangeSet&) { ++deliveries; });
  hub.subscribe("alice", 1, 10);
  hub.subscribe("alice", 1, 10);  // twice is once
  EXPECT_EQ(hub.subscriberCount("alice", 1), 1u);
  hub.unsubscribe("alice", 1, 10);
  EXPECT_EQ(hub.subscriberCount("alice", 1), 0u);
  EXPECT_EQ(hub.publish("alice", changeIn(1, 1)), 0u);
  EXPECT_EQ(deliveries, 0);
}

TEST(MailboxHubTest, SessionMayUnsubscribeOthersDuringDelivery) {
  MailboxHub hub;
  std::vector<std::uint64_t> delivered;
  hub.setDeliver([&](std::uint64_t id, const store::ChangeSet&) {
    delivered.push_back(id);
    if (id == 10) hub.unsubscribe("alice", 1, 11);
  });
  hub.subscribe("alice", 1, 10);
  hub.subscribe("alice", 1, 11);
  hub.publish("alice", changeIn(1, 1));
  // The walk is over a copy: 11 was subscribed when the publish began.
  EXPECT_EQ(delivered, (std::vector<std::uint64_t>{10, 11}));
  EXPECT_EQ(hub.subscriberCount("alice", 1), 1u);
}

}  // namespace
}  // namespace popbridge::proxy
