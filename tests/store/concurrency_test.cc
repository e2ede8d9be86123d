#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::readBody;
using testing::TempDir;

std::string contentFor(std::uint32_t uid) {
  return makeMessage("c" + std::to_string(uid), (uid * 37u) % 3000u);
}

// One thread appends, one changes flags, several read: every reader sees whole committed
// messages only (no gap in uids, every listed body complete and byte-identical).
TEST(Concurrency, ReadersNeverSeeHalfWrites) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto user = store->user("alice").value();
  const auto inbox = user->mailbox("INBOX").value();
  constexpr int kBatches = 30;
  constexpr int kBatchSize = 4;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};

  std::thread writer([&] {
    std::uint32_t next_uid = 1;
    for (int b = 0; b < kBatches; ++b) {
      std::vector<NewMessage> batch;
      for (int i = 0; i < kBatchSize; ++i)
        batch.push_back(newMessage(*user, contentFor(next_uid++)));
      auto changes = user->append("INBOX", std::move(batch));
      ASSERT_TRUE(changes.has_value()) << changes.error().message;
      ASSERT_EQ(changes->appended.back().uid, next_uid - 1);
    }
    done = true;
  });
  std::thread flagger([&] {
    std::uint32_t uid = 1;
    while (!done) {
      const std::vector<std::uint32_t> one{uid};
      auto changes = user->storeFlags(inbox.id, one, FlagOp::Add, Flags{kSeen, {"Seen1"}});
      ASSERT_TRUE(changes.has_value()) << changes.error().message;
      if (!changes->flag_changes.empty()) ++uid;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::uint32_t last_count = 0;
      while (!done) {
        auto listed = user->listMessages(inbox.id);
        ASSERT_TRUE(listed.has_value()) << listed.error().message;
        ASSERT_GE(listed->size(), last_count);
        last_count = static_cast<std::uint32_t>(listed->size());
        for (std::size_t i = 0; i < listed->size(); ++i) {
          const MessageInfo& m = (*listed)[i];
          ASSERT_EQ(m.uid, i + 1);
          const bool plain = m.flags == Flags{};
          const bool flagged = m.flags == Flags{kSeen, {"Seen1"}};
          ASSERT_TRUE(plain || flagged);
        }
        if (!listed->empty()) {
          const MessageInfo& last = listed->back();
          ASSERT_EQ(readBody(*user, inbox.id, last.uid), contentFor(last.uid));
          ASSERT_EQ(last.size, contentFor(last.uid).size());
        }
        auto info = user->mailbox("INBOX");
        ASSERT_TRUE(info.has_value());
        ASSERT_GE(info->messages, last_count);
        ++reads;
      }
    });
  }
  writer.join();
  flagger.join();
  for (auto& reader : readers) reader.join();
  EXPECT_GT(reads.load(), 0);
  auto listed = user->listMessages(inbox.id).value();
  ASSERT_EQ(listed.size(), static_cast<std::size_t>(kBatches * kBatchSize));
  for (const auto& m : listed) EXPECT_EQ(readBody(*user, inbox.id, m.uid), contentFor(m.uid));
  auto report = store->check("alice").value();
  EXPECT_TRUE(report.problems.empty());
  EXPECT_TRUE(report.orphans.empty());
}

// Concurrent appends to one mailbox from several threads: all land, uids unique and dense.
TEST(Concurrency, ParallelAppendsGetDistinctUids) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto user = store->user("alice").value();
  const auto inbox = user->mailbox("INBOX").value();
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int b = 0; b < 10; ++b) {
        std::vector<NewMessage> batch;
        for (int i = 0; i < 3; ++i) {
          batch.push_back(
              newMessage(*user, makeMessage("t" + std::to_string(t) + "b" + std::to_string(b) +
                                                "i" + std::to_string(i),
                                            200)));
        }
        auto changes = user->append("INBOX", std::move(batch));
        ASSERT_TRUE(changes.has_value()) << changes.error().message;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  auto listed = user->listMessages(inbox.id).value();
  ASSERT_EQ(listed.size(), 120u);
  for (std::size_t i = 0; i < listed.size(); ++i) EXPECT_EQ(listed[i].uid, i + 1);
  EXPECT_EQ(user->mailbox("INBOX").value().uidnext, 121u);
}

}  // namespace
}  // namespace popbridge::store
