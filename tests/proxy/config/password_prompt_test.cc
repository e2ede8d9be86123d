#include "proxy/cli/password_prompt.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // posix_openpt, grantpt, unlockpt, ptsname
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

namespace popbridge::proxy::cli {
namespace {

TEST(ReadPasswordLine, StripsLineEnding) {
  std::istringstream in("first\r\nsecond\n");
  EXPECT_EQ(readPasswordLine(in).value(), "first");
  EXPECT_EQ(readPasswordLine(in).value(), "second");
  EXPECT_FALSE(readPasswordLine(in).has_value());
}

// A pseudo-terminal pair standing in for the operator's terminal.
class PtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_GE(master_, 0);
    ASSERT_EQ(grantpt(master_), 0);
    ASSERT_EQ(unlockpt(master_), 0);
    slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY);
    ASSERT_GE(slave_, 0);
    termios t{};
    ASSERT_EQ(tcgetattr(slave_, &t), 0);
    ASSERT_NE(t.c_lflag & ECHO, 0U) << "a fresh pty echoes";
  }
  void TearDown() override {
    if (slave_ >= 0) close(slave_);
    if (master_ >= 0) close(master_);
  }

  bool echoOn() const {
    termios t{};
    return tcgetattr(slave_, &t) == 0 && (t.c_lflag & ECHO) != 0;
  }

  // Types `input` once echo is off: typeahead before that is discarded on purpose (TCSAFLUSH).
  std::thread typeWhenEchoOff(std::string input) {
    return std::thread([this, input = std::move(input)] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (echoOn() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      ASSERT_EQ(write(master_, input.data(), input.size()), static_cast<ssize_t>(input.size()));
    });
  }

  // Everything the terminal displayed (its echo), without blocking.
  std::string displayed() const {
    const int flags = fcntl(master_, F_GETFL);
    fcntl(master_, F_SETFL, flags | O_NONBLOCK);
    std::string out;
    char buffer[256];
    ssize_t n = 0;
    while ((n = read(master_, buffer, sizeof(buffer))) > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    }
    fcntl(master_, F_SETFL, flags);
    return out;
  }

  int master_ = -1;
  int slave_ = -1;
};

TEST_F(PtyTest, ReadsTwiceWithoutEchoAndRestoresEcho) {
  std::thread typist = typeWhenEchoOff("hunter2 x\nhunter2 x\n");
  std::ostringstream prompts;
  const auto password = readPasswordFromTerminal(slave_, prompts);
  typist.join();
  ASSERT_TRUE(password.has_value()) << password.error();
  EXPECT_EQ(*password, "hunter2 x");
  EXPECT_EQ(prompts.str(), "Password: Repeat password: ");
  EXPECT_TRUE(echoOn());
  EXPECT_EQ(displayed().find("hunter2"), std::string::npos);
}

TEST_F(PtyTest, MismatchRefusedAndEchoRestored) {
  std::thread typist = typeWhenEchoOff("one\ntwo\n");
  std::ostringstream prompts;
  const auto password = readPasswordFromTerminal(slave_, prompts);
  typist.join();
  ASSERT_FALSE(password.has_value());
  EXPECT_EQ(password.error(), "the passwords do not match");
  EXPECT_TRUE(echoOn());
}

TEST(ReadPasswordFromTerminal, NotATerminal) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::ostringstream prompts;
  const auto password = readPasswordFromTerminal(fds[0], prompts);
  close(fds[0]);
  close(fds[1]);
  ASSERT_FALSE(password.has_value());
  EXPECT_EQ(password.error().rfind("cannot turn off terminal echo", 0), 0U) << password.error();
  EXPECT_EQ(prompts.str(), "");
}

}  // namespace
}  // namespace popbridge::proxy::cli
