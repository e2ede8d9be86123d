#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popbridge::mailfile {

// IMAP system flags (RFC 9051 2.3.2) as carried by mbox headers and Maildir file names. The
// codec cannot see the store, so it has its own small set; proxy/archive maps it.
enum MailFlag : std::uint32_t {
  kSeen = 1,
  kAnswered = 2,
  kFlagged = 4,
  kDeleted = 8,
  kDraft = 16,
};

struct MailFlags {
  std::uint32_t system = 0;           // MailFlag bits
  std::vector<std::string> keywords;  // as found, in order, without duplicates
  bool operator==(const MailFlags&) const = default;
};

}  // namespace popbridge::mailfile
