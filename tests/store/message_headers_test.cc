// UserStore::messageHeaders(): the header blocks SORT and THREAD read.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::newMessage;
using testing::TempDir;

TEST(MessageHeadersTest, HeaderBlocksOfTheAskedUidsInUidOrder) {
  TempDir dir;
  auto store = Store::open(dir.path());
  ASSERT_TRUE(store) << store.error().message;
  auto alice = (*store)->user("alice").value();
  const std::vector<std::string> bodies = {
      "Subject: one\r\nMessage-ID: <1@x>\r\n\r\nbody one\r\n",
      "Subject: two\r\n\r\n",
      "Subject: three\r\nReferences: <1@x>\r\n\r\nbody three\r\n",
  };
  std::vector<NewMessage> batch;
  for (const std::string& body : bodies) batch.push_back(newMessage(*alice, body));
  auto changes = alice->append("INBOX", std::move(batch));
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->appended.size(), 3u);
  const std::uint32_t first = changes->appended[0].uid;
  const std::uint32_t third = changes->appended[2].uid;
  const std::vector<std::uint32_t> wanted = {first, third, third + 100};  // one never existed
  auto headers = alice->messageHeaders(changes->mailbox_id, wanted);
  ASSERT_TRUE(headers) << headers.error().message;
  ASSERT_EQ(headers->size(), 2u);
  EXPECT_EQ((*headers)[0].uid, first);
  EXPECT_EQ((*headers)[0].header, "Subject: one\r\nMessage-ID: <1@x>\r\n\r\n");
  EXPECT_EQ((*headers)[0].size, bodies[0].size());
  EXPECT_EQ((*headers)[0].internaldate, 1700000000);
  EXPECT_EQ((*headers)[1].uid, third);
  EXPECT_EQ((*headers)[1].header, "Subject: three\r\nReferences: <1@x>\r\n\r\n");

  // Expunged messages are left out; a mailbox that is gone is an error.
  const std::uint32_t expunge[] = {first};
  ASSERT_TRUE(alice->storeFlags(changes->mailbox_id, expunge, FlagOp::Add, Flags{kDeleted, {}}));
  ASSERT_TRUE(alice->expunge(changes->mailbox_id, std::nullopt));
  headers = alice->messageHeaders(changes->mailbox_id, wanted);
  ASSERT_TRUE(headers) << headers.error().message;
  ASSERT_EQ(headers->size(), 1u);
  EXPECT_EQ((*headers)[0].uid, third);
  EXPECT_FALSE(alice->messageHeaders(changes->mailbox_id + 1000, wanted));
}

}  // namespace
}  // namespace popbridge::store
