#pragma once

// Shared helpers for the store tests: a private temp dir per test and message builders.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
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

}  // namespace popbridge::store::testing
