#include "proxy/server/control_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "proxy/server/control_client.h"
#include "tests/proxy/core/loop_fixture.h"

namespace popbridge::proxy {
namespace {

namespace fs = std::filesystem;

class ControlServerTest : public testing::LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    // As in the daemon (serve): a peer that hung up is an error return, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    std::string pattern = (fs::temp_directory_path() / "pb_ctl.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ / "control.sock";
  }
  void TearDown() override {
    LoopTest::TearDown();
    fs::remove_all(dir_);
  }

  std::unique_ptr<ControlServer> makeServer() {
    return std::make_unique<ControlServer>(
        loop(), path_,
        [this](std::uint64_t id, const control::Request& request) {
          requests_.push_back(request);
          if (request.kind == control::RequestKind::Status) {
            server_->send(id, control::Message("account").set("user", "alice"));
            server_->send(id, control::Message("done").set("ok", true));
            server_->finish(id);
          } else {
            held_ = id;  // answered later
          }
        },
        [this](std::uint64_t id) { closed_.push_back(id); });
  }

  // Runs `client` on a thread while the loop runs; returns when it finished.
  void withClient(const std::function<void()>& client) {
    std::atomic<bool> done{false};
    std::thread thread([&] {
      client();
      done = true;
    });
    EXPECT_TRUE(runUntil([&] { return done.load(); }));
    thread.join();
  }

  fs::path dir_;
  fs::path path_;
  std::unique_ptr<ControlServer> server_;
  std::vector<control::Request> requests_;
  std::vector<std::uint64_t> closed_;
  std::atomic<std::uint64_t> held_{0};
};

TEST_F(ControlServerTest, AnswersARequestThenClosesAndRemovesTheSocketOnStop) {
  server_ = makeServer();
  ASSERT_TRUE(server_->start());
  struct stat info {};
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600U);

  std::vector<std::string> types;
  std::string error;
  withClient([&] {
    auto client = ControlClient::connect(path_);
    ASSERT_TRUE(client) << client.error().message;
    ASSERT_TRUE(client->send({control::RequestKind::Status, ""}));
    while (true) {
      auto message = client->next(std::chrono::seconds(10));
      if (!message) {
        error = message.error();
        break;
      }
      types.emplace_back(message->type());
    }
  });
  EXPECT_EQ(types, (std::vector<std::string>{"account", "done"}));
  EXPECT_NE(error.find("closed the connection"), std::string::npos) << error;
  ASSERT_EQ(requests_.size(), 1U);
  EXPECT_TRUE(runUntil([&] { return closed_.size() == 1; }));

  server_->stop();
  EXPECT_FALSE(fs::exists(path_));
  server_.reset();
}

TEST_F(ControlServerTest, BadRequestsAreAnsweredWithAnError) {
  server_ = makeServer();
  ASSERT_TRUE(server_->start());
  std::string reply;
  withClient([&] {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path_.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    const std::string line = "status please\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    char buffer[512];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
      reply.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
  EXPECT_EQ(reply, "{\"type\":\"done\",\"ok\":false,\"error\":\"status takes no arguments\"}\n");
  EXPECT_TRUE(requests_.empty());
  server_.reset();
}

TEST_F(ControlServerTest, ClientGoingAwayIsReportedAndLaterRepliesAreDropped) {
  server_ = makeServer();
  ASSERT_TRUE(server_->start());
  withClient([&] {
    auto client = ControlClient::connect(path_);
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send({control::RequestKind::Sync, "alice"}));
    // Wait until the server has the request, then hang up.
    while (held_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  const std::uint64_t id = held_.load();
  ASSERT_NE(id, 0U);
  // A hang-up reads like a half-close (the client may still read the answer), so the server
  // learns of it when a reply cannot be written.
  EXPECT_TRUE(runUntil([&] {
    server_->send(id, control::Message("progress"));
    return closed_ == std::vector<std::uint64_t>{id};
  }));
  EXPECT_FALSE(server_->alive(id));
  EXPECT_FALSE(server_->send(id, control::Message("progress")));
  server_->finish(id);  // harmless
  server_.reset();
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOneAndOtherFilesAreRefused) {
  // A socket file nobody listens on, as a crashed daemon leaves it.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
  }
  server_ = makeServer();
  ASSERT_TRUE(server_->start());

  auto second = makeServer();
  auto refused = second->start();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("another popbridge runs"), std::string::npos) << refused.error();
  second.reset();
  EXPECT_TRUE(fs::exists(path_)) << "a refused start must not remove the live socket";
  server_.reset();
  EXPECT_FALSE(fs::exists(path_));

  std::ofstream(path_) << "not a socket";
  server_ = makeServer();
  auto not_socket = server_->start();
  ASSERT_FALSE(not_socket);
  EXPECT_NE(not_socket.error().find("is not a socket"), std::string::npos);
  server_.reset();
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(ControlServerTest, ClientSeesNoDaemon) {
  auto client = ControlClient::connect(path_);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().kind, ControlConnectError::NotRunning);
}

}  // namespace
}  // namespace popbridge::proxy
