#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace popbridge::imap {

// What SORT (RFC 5256 3) and THREAD (RFC 5256 2.2, 4) look at in one message, read from its
// header block once.
struct SortKeys {
  std::uint32_t number = 0;       // what the response lists: a sequence number or a UID
  std::int64_t arrival = 0;       // INTERNALDATE, unix seconds
  std::int64_t sent = 0;          // the Date header in UTC (RFC 5256 2.2 "sent date"); else arrival
  std::uint64_t size = 0;         // RFC822.SIZE
  bool has_subject = false;       // a Subject field is present
  std::string subject;            // its base subject (RFC 5256 2.1), case folded; empty without one
  bool reply_or_forward = false;  // the base subject extraction removed a Re/Fwd
  // addr-mailbox of the first address of From, To and Cc (RFC 5256 3), case folded; empty when
  // there is none.
  std::string from;
  std::string to;
  std::string cc;
  // The display value (RFC 5957 3) of the first address of From and To, case folded: its
  // display name with encoded-words decoded when that is not empty, else mailbox@host, else the
  // mailbox (a group's name), else empty.
  std::string display_from;
  std::string display_to;
  std::string message_id;               // the first msg-id of Message-ID, "<...>"; empty if none
  std::vector<std::string> references;  // RFC 5256 2.2 (1): References' msg-ids in order, or
                                        // the first msg-id of In-Reply-To when it has none
};

// Reads the keys from a raw header block (the message's header up to its empty line; a block cut
// short is read as far as it goes). For each field the first occurrence counts. `arrival`,
// `size` and `number` are the caller's. Pure; any thread.
SortKeys sortKeys(std::string_view header, std::uint32_t number, std::int64_t arrival,
                  std::uint64_t size);

// The msg-ids of a Message-ID, References or In-Reply-To value, each as "<...>" with white
// space and comments outside them skipped (RFC 5322 3.6.4); an id holding white space or a "<"
// is not one. Pure; any thread.
std::vector<std::string> messageIds(std::string_view value);

enum class SortKey : std::uint8_t {
  Arrival,
  Cc,
  Date,
  DisplayFrom,  // RFC 5957 4
  DisplayTo,
  From,
  Size,
  Subject,
  To
};

struct SortCriterion {
  SortKey key = SortKey::Arrival;
  bool reverse = false;

  friend bool operator==(const SortCriterion&, const SortCriterion&) = default;
};

// Orders `messages` by the criteria, the first deciding first; REVERSE reverses only its own
// criterion, and messages equal under all of them keep ascending `number` (RFC 5256 3: ties go
// by sequence number, which orders as UIDs do). Strings compare as bytes. Returns the numbers
// in that order. Pure; any thread.
std::vector<std::uint32_t> sortNumbers(std::vector<SortKeys> messages,
                                       const std::vector<SortCriterion>& criteria);

}  // namespace popbridge::imap
