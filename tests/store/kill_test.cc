// Crash safety: a child process appends in a loop and reports every acknowledged uid; it is
// SIGKILLed at a random moment, and everything it acknowledged must be intact after reopen.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::store {
namespace {

using testing::makeMessage;
using testing::newMessage;
using testing::readBody;
using testing::TempDir;

struct Ack {
  std::uint32_t uid;
  std::uint32_t n;
};

std::string subjectFor(std::uint32_t n) { return "k" + std::to_string(n); }
std::string contentFor(std::uint32_t n) { return makeMessage(subjectFor(n), (n * 7919u) % 20000u); }

// Runs in the forked child: never returns.
[[noreturn]] void appendForever(const std::filesystem::path& dir, std::uint32_t first_n,
                                int out_fd) {
  auto store = Store::open(dir);
  if (!store) _exit(10);
  auto user = (*store)->user("alice");
  if (!user) _exit(11);
  std::uint32_t n = first_n;
  for (std::uint32_t round = 0;; ++round) {
    std::vector<NewMessage> batch;
    const std::uint32_t size = 1 + round % 6;
    for (std::uint32_t i = 0; i < size; ++i, ++n) {
      batch.push_back(newMessage(**user, contentFor(n), Flags{}, LedgerKey{"acct", subjectFor(n)}));
    }
    auto changes = (*user)->append("INBOX", std::move(batch));
    if (!changes) _exit(12);
    for (std::size_t i = 0; i < changes->appended.size(); ++i) {
      const Ack ack{changes->appended[i].uid,
                    n - static_cast<std::uint32_t>(changes->appended.size() - i)};
      // 8 bytes < PIPE_BUF: the write is atomic, the parent never sees half an ack.
      if (::write(out_fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(13);
    }
  }
}

// Reads whole acks from fd until EOF, or until the deadline if one is given.
void readAcks(int fd, std::vector<Ack>& acks, std::string& partial,
              std::chrono::steady_clock::time_point deadline, bool until_eof) {
  char buffer[4096];
  while (true) {
    int timeout_ms = -1;
    if (!until_eof) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      timeout_ms = static_cast<int>(left.count());
    }
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready == 0) return;
    if (ready < 0) continue;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return;
    partial.append(buffer, static_cast<std::size_t>(got));
    while (partial.size() >= sizeof(Ack)) {
      Ack ack{};
      std::memcpy(&ack, partial.data(), sizeof ack);
      acks.push_back(ack);
      partial.erase(0, sizeof ack);
    }
  }
}

// The n a stored message was generated from, from its Subject line.
std::uint32_t subjectNumber(const std::string& body) {
  const auto at = body.find("Subject: k");
  if (at == std::string::npos) return 0;
  return static_cast<std::uint32_t>(std::stoul(body.substr(at + 10)));
}

TEST(KillTest, AcknowledgedAppendsSurviveSigkill) {
  const char* long_env = std::getenv("POPBRIDGE_LONG_TESTS");
  const bool long_run = long_env != nullptr && std::string(long_env) == "1";
  const int trials = long_run ? 60 : 4;
  const auto seed = std::random_device{}();
  std::mt19937 random(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));

  TempDir dir;
  std::map<std::uint32_t, std::uint32_t> acked;  // uid -> n
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      appendForever(dir.path(), static_cast<std::uint32_t>(trial + 1) * 100000u, fds[1]);
    }
    ::close(fds[1]);
    std::vector<Ack> acks;
    std::string partial;
    // Early kills hit open/recovery, later ones hit appends in every phase.
    const int delay_ms = std::uniform_int_distribution<int>(5, 400)(random);
    readAcks(fds[0], acks, partial,
             std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms), false);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    readAcks(fds[0], acks, partial, {}, true);
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << WEXITSTATUS(status);
    for (const Ack& ack : acks) {
      ASSERT_EQ(acked.count(ack.uid), 0u) << "uid acknowledged twice: " << ack.uid;
      acked[ack.uid] = ack.n;
    }

    auto store = Store::open(dir.path()).value();
    auto user = store->user("alice").value();
    EXPECT_EQ(testing::countFiles(user->directory() / "tmp"), 0u);
    const auto inbox = user->mailbox("INBOX").value();
    auto listed = user->listMessages(inbox.id).value();
    std::map<std::uint32_t, const MessageInfo*> by_uid;
    for (const auto& m : listed) by_uid[m.uid] = &m;
    for (const auto& [uid, n] : acked) {
      auto it = by_uid.find(uid);
      ASSERT_NE(it, by_uid.end()) << "acknowledged uid " << uid << " lost";
      ASSERT_EQ(readBody(*user, inbox.id, uid, 8192), contentFor(n)) << "uid " << uid;
    }
    // Messages committed but not yet acknowledged when the kill came are whole too.
    for (const auto& m : listed) {
      const std::string body = readBody(*user, inbox.id, m.uid, 8192);
      const std::uint32_t n = subjectNumber(body);
      ASSERT_EQ(body, contentFor(n)) << "uid " << m.uid;
      ASSERT_EQ(m.size, body.size());
    }
    std::map<std::string, std::uint32_t> ledger;
    const auto rows = user->ledger("acct").value();
    for (const auto& row : rows) ledger[row.uidl] = row.uid;
    for (const auto& [uid, n] : acked) {
      ASSERT_EQ(ledger[subjectFor(n)], uid) << "ledger row of uid " << uid;
    }
    EXPECT_EQ(ledger.size(), listed.size());
    auto report = store->check("alice").value();
    EXPECT_EQ(report.messages, listed.size());
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
    // Bodies renamed into blobs/ by the append the kill cut short are gone with the recovery.
    EXPECT_TRUE(report.orphans.empty()) << report.orphans.front();
  }
  EXPECT_FALSE(acked.empty()) << "no append was ever acknowledged";
}

// A killed process can leave blob files no row references: bodies an append renamed into blobs/
// before its commit, bodies an expunge committed away before unlinking them. The next open
// removes them, and nothing else; after a clean close it does not look.
TEST(KillTest, OpenAfterCrashRemovesOrphanBlobs) {
  TempDir dir;
  const auto user_dir = dir.path() / "alice";
  const std::string stray = "01" + std::string(30, 'e');
  const auto stray_path = user_dir / "blobs" / "01" / stray;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto user = UserStore::open(user_dir);
    if (!user) _exit(10);
    std::vector<NewMessage> batch;
    batch.push_back(newMessage(**user, contentFor(1)));
    if (!(*user)->append("INBOX", std::move(batch))) _exit(11);
    std::ofstream(stray_path) << "renamed, never committed";
    _exit(0);  // no destructor runs, as after a SIGKILL
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(std::filesystem::exists(stray_path));
  std::ofstream(user_dir / "blobs" / "ab" / "not-a-blob") << "foreign";
  {
    auto user = UserStore::open(user_dir).value();
    EXPECT_FALSE(std::filesystem::exists(stray_path));
    const auto report = user->check().value();
    EXPECT_EQ(report.messages, 1u);
    EXPECT_TRUE(report.problems.empty());
    EXPECT_EQ(report.orphans, std::vector<std::string>{"blobs/ab/not-a-blob"});
    const auto inbox = user->mailbox("INBOX").value();
    EXPECT_EQ(readBody(*user, inbox.id, 1), contentFor(1));
  }
  // Closed cleanly: the next open leaves an unreferenced blob to check() to report.
  std::ofstream(stray_path) << "left by hand";
  auto user = UserStore::open(user_dir).value();
  EXPECT_TRUE(std::filesystem::exists(stray_path));
  EXPECT_EQ(user->check().value().orphans.size(), 2u);
}

}  // namespace
}  // namespace popbridge::store
