#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace popbridge::store {

// IMAP system flags (RFC 9051 2.3.2) as bits; \Recent is not stored (IMAP4rev2 dropped it).
enum SystemFlag : std::uint32_t {
  kSeen = 1,
  kAnswered = 2,
  kFlagged = 4,
  kDeleted = 8,
  kDraft = 16
};
inline constexpr std::uint32_t kAllSystemFlags = kSeen | kAnswered | kFlagged | kDeleted | kDraft;

struct Flags {
  std::uint32_t system = 0;           // SystemFlag bits
  std::vector<std::string> keywords;  // sorted, unique, case preserved (e.g. "$Forwarded")
  bool operator==(const Flags&) const = default;
};

// Special-use attributes of a mailbox (RFC 6154 2) as bits. The store keeps the ones it can
// honour for a real mailbox (kSupportedSpecialUse); \All and \Flagged name virtual mailboxes,
// which the store does not have.
enum SpecialUse : std::uint32_t {
  kUseAll = 1,
  kUseArchive = 2,
  kUseDrafts = 4,
  kUseFlagged = 8,
  kUseJunk = 16,
  kUseSent = 32,
  kUseTrash = 64
};
inline constexpr std::uint32_t kSupportedSpecialUse =
    kUseArchive | kUseDrafts | kUseJunk | kUseSent | kUseTrash;

struct MailboxInfo {
  std::int64_t id;   // stable for the mailbox's life, never reused by another mailbox
  std::string name;  // UTF-8
  std::uint32_t uidvalidity;
  std::uint32_t uidnext;
  std::uint64_t highestmodseq;
  std::uint32_t messages;
  std::uint32_t unseen;
  std::uint64_t total_bytes;
  std::uint32_t special_use = 0;  // SpecialUse bits
  std::uint32_t deleted = 0;      // messages flagged \Deleted (RFC 9051 STATUS DELETED)
  // RFC 8474 4 MAILBOXID: "M" and 32 random hex digits, given at creation, kept by RENAME and
  // never given to another mailbox (a mailbox created again under an old name gets a new one).
  std::string object_id;
};

struct MessageInfo {
  std::uint32_t uid;
  Flags flags;
  std::uint64_t size;
  std::uint64_t header_size;
  std::int64_t internaldate;  // unix seconds
  int tz_offset_minutes;      // for INTERNALDATE display
  std::uint64_t modseq;
};

// FETCH BINARY's decoded size of one part (UserStore::decodedSize): its bytes once its
// Content-Transfer-Encoding is undone, and whether a NUL is among them.
struct DecodedSize {
  std::uint64_t size = 0;
  bool has_nul = false;
};

// RFC 8474 5 object ids of one message, each 33 characters of [0-9a-zT] / [0-9a-zE].
struct MessageObjectIds {
  // EMAILID: "E" and the message's body id. Copies and moves share the body, so they share it;
  // it never changes while the message exists, and a new message never gets an old one.
  std::string email_id;
  // THREADID: "T" and the body id of the first message of its thread, chosen at ingest from
  // Message-ID, References and In-Reply-To of messages stored before it (see UserStore::append).
  std::string thread_id;
};

// A message's header block with what SORT and THREAD need besides it (UserStore::messageHeaders).
struct MessageHeader {
  std::uint32_t uid;
  std::uint64_t size;
  std::int64_t internaldate;  // unix seconds
  std::string header;         // the header block, at most kMaxSortHeaderBytes of it
};

// A longer header is read up to this size for SORT and THREAD (as SEARCH HEADER reads it).
inline constexpr std::size_t kMaxSortHeaderBytes = 256 * 1024;

enum class LedgerState { Stored, DeletePending, Deleted };

// Attached to a NewMessage pulled from a POP account: the ledger row is committed with it.
struct LedgerKey {
  std::string account;
  std::string uidl;
  LedgerState state = LedgerState::Stored;
};

struct LedgerEntry {
  std::string uidl;
  LedgerState state;
  std::int64_t first_seen;  // unix seconds of the commit that first recorded the uidl
  std::string mailbox;      // where the message was stored; "" if that mailbox was deleted
  std::uint32_t uid;        // 0 if the message left the store
};

// What one committed write changed, for the daemon to publish to IMAP sessions after the commit.
struct ChangeSet {
  std::int64_t mailbox_id = 0;
  std::string mailbox;
  std::vector<MessageInfo> appended;      // ascending uid
  std::vector<MessageInfo> flag_changes;  // uid, new flags, new modseq (only messages that changed)
  std::vector<std::uint32_t> expunged;    // ascending uid
  std::uint64_t highestmodseq = 0;
};

// What one user's store holds, for quotas (RFC 9208 5): the sum of every message's RFC822.SIZE
// over all mailboxes (STORAGE counts bytes; the proxy shows KiB) and the number of messages.
// A body copied into two mailboxes counts twice, as RFC 9208 5.1 asks.
struct QuotaUsage {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  bool operator==(const QuotaUsage&) const = default;
};

// Limits a write must respect; nullopt means no limit. A write that would leave a resource above
// its limit fails with ErrorCode::OverQuota unless it does not raise that resource's usage (a
// MOVE, or an expunge, stays possible for a user already over the limit).
struct QuotaLimits {
  std::optional<std::uint64_t> bytes;
  std::optional<std::uint64_t> messages;
};

// Result of an integrity check of one user's store (see Store::check).
struct IntegrityReport {
  std::uint64_t messages = 0;
  std::vector<std::string> problems;  // rows whose blob is missing or has the wrong size, db errors
  std::vector<std::string> orphans;   // blob files (relative to the user dir) no row references
};

}  // namespace popbridge::store
