#pragma once

// Shared helpers for the store tests: a private temp dir per test and message builders.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "store/user_store.h"

namespace popbridge::store::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/pb_store_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A message body: header with the given subject, then `body_bytes` bytes of a pattern seeded by
// the subject so that every message is different.
inline std::string makeMessage(std::string_view subject, std::size_t body_bytes) {
  std::string out = "From: a@example.org\r\nSubject: ";
  out += subject;
  out += "\r\n\r\n";
  std::uint32_t state = 2166136261u;
  for (char c : subject) state = (state ^ static_cast<unsigned char>(c)) * 16777619u;
  for (std::size_t i = 0; i < body_bytes; ++i) {
    state = state * 1103515245u + 12345u;
    if (i % 78 == 76) {
      out += '\r';
    } else if (i % 78 == 77) {
      out += '\n';
    } else {
      out += static_cast<char>('a' + (state >> 16) % 26);
    }
  }
  return out;
}

// Stages `content` (written in chunks of `chunk` bytes) and returns a NewMessage for append().
inline NewMessage newMessage(UserStore& user, std::string_view content, Flags flags = {},
                             std::optional<LedgerKey> pop = std::nullopt,
                             std::size_t chunk = 4096) {
  auto staged = user.stageMessage();
  EXPECT_TRUE(staged.has_value()) << staged.error().message;
  for (std::size_t at = 0; at < content.size(); at += chunk) {
    auto written = staged->write(content.substr(at, chunk));
    EXPECT_TRUE(written.has_value()) << written.error().message;
  }
  return NewMessage{std::move(*staged), 1700000000, 60, std::move(flags), std::move(pop)};
}

// Reads the whole body through a BodyReader in pieces of `piece` bytes.
inline std::string readBody(UserStore& user, std::int64_t mailbox_id, std::uint32_t uid,
                            std::size_t piece = 1000) {
  auto reader = user.openBody(mailbox_id, uid);
  if (!reader) {
    ADD_FAILURE() << "openBody(" << uid << "): " << reader.error().message;
    return {};
  }
  std::string out;
  std::vector<char> buffer(piece);
  while (true) {
    auto got = reader->read(out.size(), buffer);
    if (!got) {
      ADD_FAILURE() << got.error().message;
      return out;
    }
    if (*got == 0) break;
    out.append(buffer.data(), *got);
  }
  EXPECT_EQ(out.size(), reader->size());
  return out;
}

inline std::size_t countFiles(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) ++n;
  }
  return n;
}

// The first column of the first row of `query`, run on the user's database behind the store's
// back (-1 without a row).
inline std::int64_t sqlCount(const std::filesystem::path& user_dir, const std::string& query) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((user_dir / "meta.sqlite").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr), SQLITE_OK) << query;
  std::int64_t out = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// Runs `statements` on the user's database behind the store's back (close the store first
// when they change the schema).
inline void sqlExec(const std::filesystem::path& user_dir, const std::string& statements) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((user_dir / "meta.sqlite").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// A store in a fresh directory with the user "alice" open; open() opens them again (as a
// restart does), close() lets them go.
class UserTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    close();
    store_ = Store::open(dir_.path()).value();
    user_ = store_->user("alice").value();
    inbox_ = user_->mailbox("INBOX").value().id;
  }
  void close() {
    user_.reset();
    store_.reset();
  }
  std::filesystem::path userDir() const { return dir_.path() / "users" / "alice"; }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<UserStore> user_;
  std::int64_t inbox_ = 0;
};

}  // namespace popbridge::store::testing
