#pragma once

// The store's search query: what UserStore::search() evaluates. It speaks of flags, sizes,
// dates, headers and UIDs only; the proxy translates IMAP search keys into it and resolves
// sequence numbers (which are per session) into UIDs first.

#include <cstdint>
#include <string>
#include <vector>

namespace popbridge::store {

struct UidRange {
  std::uint32_t first;
  std::uint32_t last;  // inclusive, >= first
};

// One node of a query tree stored flat in pre-order: a node's first child is at index + 1, each
// next child at the previous child's `end`. Evaluators walk the vector backwards (children before
// parents) so no nesting depth can exhaust the stack.
struct SearchNode {
  enum class Kind : std::uint8_t {
    And,            // all children (1 or more)
    Or,             // either of exactly 2 children
    Not,            // exactly 1 child
    All,            // every message
    None,           // no message
    FlagsSet,       // every SystemFlag bit of `flags` is set
    FlagsClear,     // every SystemFlag bit of `flags` is clear
    Keyword,        // keyword `value` is set (case-insensitive)
    NoKeyword,      // keyword `value` is not set
    Larger,         // RFC822.SIZE > size
    Smaller,        // RFC822.SIZE < size
    Before,         // INTERNALDATE's day, in its own zone, < day
    On,             // ... == day
    Since,          // ... >= day
    SentBefore,     // the Date header's day as written < day (no Date header: no match)
    SentOn,         // ... == day
    SentSince,      // ... >= day
    Header,         // a header field named `field` (any case) contains `value` (see below)
    Body,           // the body's text contains `value` (see below)
    Text,           // the header text or the body's text contains `value`
    Uids,           // uid lies in `uids`
    ModseqAtLeast,  // the message's modseq >= modseq (RFC 7162 3.1.5)
    ArrivedBefore,  // INTERNALDATE, as an instant, < seconds (RFC 5032 OLDER)
    ArrivedSince,   // INTERNALDATE, as an instant, >= seconds (RFC 5032 YOUNGER)
    EmailId,        // MessageObjectIds::email_id equals `value` (RFC 8474 6)
    ThreadId,       // MessageObjectIds::thread_id equals `value` (RFC 8474 6)
  };
  Kind kind = Kind::All;
  std::uint32_t end = 0;       // index one past this node's subtree
  std::uint32_t flags = 0;     // FlagsSet / FlagsClear: store::SystemFlag bits
  std::uint64_t size = 0;      // Larger / Smaller
  std::uint64_t modseq = 0;    // ModseqAtLeast
  std::int64_t day = 0;        // date kinds: days since 1970-01-01
  std::int64_t seconds = 0;    // ArrivedBefore / ArrivedSince: seconds since 1970-01-01 UTC
  std::string field;           // Header: the field name
  std::string value;           // Keyword / NoKeyword / Header / Body / Text / EmailId / ThreadId
  std::vector<UidRange> uids;  // Uids: ascending, not overlapping
};

// "Contains" is the substring match of RFC 3501 6.4.4 with ASCII case folding; an empty value
// matches every message (for Header: every message that has the field). Header values are
// unfolded and RFC 2047 encoded-words decoded (any charset iconv knows) before matching. Body
// and Text match the decoded text of store/search_text.h: Body the text/* parts, transfer-decoded
// and converted to UTF-8; Text also every header block (message, MIME parts, attached messages).
struct SearchQuery {
  std::vector<SearchNode> nodes;  // pre-order; nodes[0] is the root; must not be empty
};

// One message that matched, with its modseq as of the search's snapshot.
struct SearchHit {
  std::uint32_t uid;
  std::uint64_t modseq;
};

}  // namespace popbridge::store
