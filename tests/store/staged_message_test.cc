#include "store/staged_message.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::TempDir;

class StagedMessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    auto user = store_->user("alice");
    ASSERT_TRUE(user.has_value()) << user.error().message;
    user_ = *user;
  }

  // header_size of `content` written whole, one byte at a time, and split at every offset; the
  // header copy is the header's first bytes each time.
  void expectHeaderSize(const std::string& content, std::uint64_t expected) {
    const std::string header = content.substr(0, expected);
    {
      auto staged = user_->stageMessage().value();
      ASSERT_TRUE(staged.write(content).has_value());
      EXPECT_EQ(staged.headerSize(), expected) << "whole: " << content;
      EXPECT_EQ(staged.headerPrefix(), header) << "whole: " << content;
      EXPECT_EQ(staged.size(), content.size());
    }
    {
      auto staged = user_->stageMessage().value();
      for (char c : content) ASSERT_TRUE(staged.write(std::string_view(&c, 1)).has_value());
      EXPECT_EQ(staged.headerSize(), expected) << "bytewise: " << content;
      EXPECT_EQ(staged.headerPrefix(), header) << "bytewise: " << content;
    }
    for (std::size_t split = 0; split <= content.size(); ++split) {
      auto staged = user_->stageMessage().value();
      ASSERT_TRUE(staged.write(std::string_view(content).substr(0, split)).has_value());
      ASSERT_TRUE(staged.write(std::string_view(content).substr(split)).has_value());
      EXPECT_EQ(staged.headerSize(), expected) << "split at " << split << ": " << content;
      EXPECT_EQ(staged.headerPrefix(), header) << "split at " << split << ": " << content;
    }
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<UserStore> user_;
};

TEST_F(StagedMessageTest, HeaderCopyStopsAtItsLimit) {
  const std::string header =
      "X-Long: " + std::string(StagedMessage::kHeaderCopyBytes, 'a') + "\r\n";
  auto staged = user_->stageMessage().value();
  ASSERT_TRUE(staged.write(header.substr(0, 1000)).has_value());
  ASSERT_TRUE(staged.write(header.substr(1000) + "\r\nbody\r\n").has_value());
  EXPECT_EQ(staged.headerSize(), header.size() + 2);
  EXPECT_EQ(staged.headerPrefix(), header.substr(0, StagedMessage::kHeaderCopyBytes));
}

TEST_F(StagedMessageTest, HeaderSizeCrLf) {
  expectHeaderSize("Subject: x\r\nFrom: y\r\n\r\nbody\r\n", 23);
}

TEST_F(StagedMessageTest, HeaderSizeBareLf) {
  expectHeaderSize("Subject: x\nFrom: y\n\nbody\n", 20);
}

TEST_F(StagedMessageTest, HeaderSizeWithoutEmptyLineIsWholeMessage) {
  expectHeaderSize("Subject: x\r\nFrom: y\r\n", 21);
  expectHeaderSize("Subject: x", 10);
  expectHeaderSize("", 0);
}

TEST_F(StagedMessageTest, HeaderSizeEmptyHeader) {
  expectHeaderSize("\r\nbody", 2);
  expectHeaderSize("\nbody", 1);
}

TEST_F(StagedMessageTest, HeaderSizeIgnoresLoneCr) {
  // "\r\r\n" is not an empty line; the header ends at the later CRLF CRLF.
  expectHeaderSize("A: 1\r\r\nB: 2\r\n\r\nx", 15);
}

TEST_F(StagedMessageTest, FirstEmptyLineCounts) {
  expectHeaderSize("A: 1\r\n\r\nbody\r\n\r\nmore", 8);
}

TEST_F(StagedMessageTest, DestroyingUnfinishedRemovesTempFile) {
  const auto tmp = user_->directory() / "tmp";
  {
    auto staged = user_->stageMessage().value();
    ASSERT_TRUE(staged.write("Subject: x\r\n\r\n").has_value());
    EXPECT_EQ(testing::countFiles(tmp), 1u);
    StagedMessage moved = std::move(staged);
    EXPECT_EQ(testing::countFiles(tmp), 1u);
  }
  EXPECT_EQ(testing::countFiles(tmp), 0u);
}

TEST_F(StagedMessageTest, LargeWritesKeepEveryByte) {
  const std::string content = testing::makeMessage("large", 300000);
  auto info = user_->mailbox("INBOX").value();
  std::vector<NewMessage> batch;
  batch.push_back(testing::newMessage(*user_, content, {}, std::nullopt, 100000));
  batch.push_back(testing::newMessage(*user_, content, {}, std::nullopt, 7));
  auto changes = user_->append("INBOX", std::move(batch));
  ASSERT_TRUE(changes.has_value()) << changes.error().message;
  for (const auto& message : changes->appended) {
    EXPECT_EQ(message.size, content.size());
    EXPECT_EQ(testing::readBody(*user_, info.id, message.uid, 65536), content);
  }
}

TEST_F(StagedMessageTest, SameBytesAsComparesWithAStoredBody) {
  const std::string content = testing::makeMessage("stored", 200000);
  auto info = user_->mailbox("INBOX").value();
  std::vector<NewMessage> batch;
  batch.push_back(testing::newMessage(*user_, content));
  const auto uid = user_->append("INBOX", std::move(batch)).value().appended.at(0).uid;
  const BodyReader stored = user_->openBody(info.id, uid).value();

  auto staged = [&](const std::string& bytes) {
    auto message = user_->stageMessage().value();
    // Pieces of several sizes, so some bytes are still buffered when the comparison starts.
    for (std::size_t at = 0; at < bytes.size(); at += 70001) {
      EXPECT_TRUE(message.write(std::string_view(bytes).substr(at, 70001)).has_value());
    }
    return message;
  };
  auto same = staged(content);
  EXPECT_TRUE(same.sameBytesAs(stored).value());
  EXPECT_TRUE(same.sameBytesAs(stored).value());  // asking again changes nothing
  EXPECT_FALSE(staged(content + "x").sameBytesAs(stored).value());
  std::string last_byte = content;
  last_byte.back() = last_byte.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(staged(last_byte).sameBytesAs(stored).value());
  std::string first_byte = content;
  first_byte.front() = 'x';
  EXPECT_FALSE(staged(first_byte).sameBytesAs(stored).value());
  // A staged message compared and then appended is stored whole.
  std::vector<NewMessage> again;
  again.push_back(NewMessage{std::move(same), 0, 0, {}, std::nullopt});
  const auto second = user_->append("INBOX", std::move(again)).value().appended.at(0).uid;
  EXPECT_EQ(testing::readBody(*user_, info.id, second, 65536), content);
}

}  // namespace
}  // namespace popbridge::store
