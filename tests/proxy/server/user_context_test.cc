// UserContext's write queue drives the store's deferred search indexing: index jobs run when the
// queue is idle, repeat until nothing is pending, and never hold back a queued write.

#include "proxy/server/user_context.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/server/mailbox_hub.h"
#include "store/search.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::proxy {
namespace {

using store::testing::makeMessage;
using store::testing::newMessage;

class UserContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    auto opened = store::Store::open(dir_.path());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    auto user = store_->user("alice");
    ASSERT_TRUE(user.has_value()) << user.error().message;
    user_ = *user;
  }
  void TearDown() override {
    context_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  UserContext& context(std::size_t index_batch) {
    context_ = std::make_unique<UserContext>(&loop_, "alice", user_, hub_, index_batch);
    context_->setIndexObserver(
        [this](std::size_t count) { events_.push_back("index " + std::to_string(count)); });
    return *context_;
  }

  // Queues an append of `count` new messages; its completion is recorded in events_.
  void append(std::size_t count) {
    const std::size_t first = next_++;
    next_ += count;
    context_->write(
        [first, count](store::UserStore& user) {
          std::vector<store::NewMessage> batch;
          for (std::size_t i = 0; i < count; ++i) {
            batch.push_back(newMessage(
                user, makeMessage("message " + std::to_string(first + i), 300) + "\r\nwordy\r\n"));
          }
          return user.append("INBOX", std::move(batch));
        },
        [this](store::Result<store::ChangeSet> changes) {
          ASSERT_TRUE(changes.has_value()) << changes.error().message;
          events_.push_back("write " + std::to_string(changes->appended.size()));
        });
  }

  std::size_t found(const std::string& needle) {
    store::SearchQuery query;
    store::SearchNode node;
    node.kind = store::SearchNode::Kind::Body;
    node.end = 1;
    node.value = needle;
    query.nodes.push_back(node);
    auto uids = user_->search(user_->mailbox("INBOX").value().id, query);
    EXPECT_TRUE(uids.has_value()) << uids.error().message;
    return uids ? uids->size() : 0;
  }

  store::testing::TempDir dir_;
  uv_loop_t loop_{};
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<store::UserStore> user_;
  MailboxHub hub_;
  std::unique_ptr<UserContext> context_;
  std::vector<std::string> events_;
  std::size_t next_ = 0;
};

TEST_F(UserContextTest, IndexesAfterAWriteUntilNothingIsPending) {
  context(2);
  append(5);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(events_,
            (std::vector<std::string>{"write 5", "index 2", "index 2", "index 1", "index 0"}));
  EXPECT_EQ(user_->indexPending(100).value(), 0u);
  EXPECT_EQ(found("WORDY"), 5u);
}

TEST_F(UserContextTest, QueuedWritesGoBeforeTheNextIndexJob) {
  context(1);
  append(2);
  append(1);  // queued behind the first write: runs before any index job
  bool added = false;
  context_->setIndexObserver([this, &added](std::size_t count) {
    events_.push_back("index " + std::to_string(count));
    if (!added) {
      added = true;
      append(3);  // queued while indexing: runs next
    }
  });
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(events_,
            (std::vector<std::string>{"write 2", "write 1", "index 1", "write 3", "index 1",
                                      "index 1", "index 1", "index 1", "index 1", "index 0"}));
  EXPECT_EQ(user_->indexPending(100).value(), 0u);
  EXPECT_EQ(found("wordy"), 6u);
}

TEST_F(UserContextTest, IndexSoonIndexesWhatWasLeftPending) {
  // Appended without the queue, as by an earlier run that stopped before indexing.
  std::vector<store::NewMessage> batch;
  batch.push_back(newMessage(*user_, makeMessage("left over", 200)));
  batch.push_back(newMessage(*user_, makeMessage("left over too", 200)));
  ASSERT_TRUE(user_->append("INBOX", std::move(batch)));
  context(10).indexSoon();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(events_, (std::vector<std::string>{"index 2", "index 0"}));
  EXPECT_EQ(user_->indexPending(100).value(), 0u);
}

TEST_F(UserContextTest, StopIndexingLeavesBodiesPendingAndSearchable) {
  context(10);
  append(3);
  context_->stopIndexing();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(events_, (std::vector<std::string>{"write 3"}));
  EXPECT_EQ(found("wordy"), 3u);
  EXPECT_EQ(user_->indexPending(100).value(), 3u);
}

}  // namespace
}  // namespace popbridge::proxy
