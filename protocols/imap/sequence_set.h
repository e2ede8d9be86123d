#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// '*' in a sequence set: the largest sequence number or UID in use (RFC 3501 9, seq-number).
// A client that writes the number 4294967295 itself gets the same value; no UID or sequence
// number can reach it, so the only difference is for a range like 7:4294967295 in a mailbox
// whose largest number is below 7, where '*' turns the range around (RFC 3501 6.4.8).
inline constexpr std::uint32_t kStar = 0xFFFFFFFFu;

struct SeqRange {
  std::uint32_t first;
  std::uint32_t last;  // equal to first for a single number; kStar stands for '*'
};

struct SequenceSet {
  std::vector<SeqRange> ranges;  // as written by the client (first may be > last)
  // "$" (RFC 5182 SEARCHRES): the saved result of the last SEARCH RETURN (SAVE); `ranges` is
  // empty. "$" stands alone: RFC 5182 3 adds it as a whole sequence-set, never inside one.
  // The session resolves it against its saved result before anything else reads the set.
  bool saved = false;

  // True when n lies in the set; '*' means `largest` (the highest seq number or UID in the
  // mailbox). A range a:b covers both a:b and b:a (RFC 3501 9, seq-range). False for "$",
  // whose members only the session knows. Pure; any thread.
  bool contains(std::uint32_t n, std::uint32_t largest) const;

  // The set written back in IMAP syntax ("1,3:5,7:*", or "$"), for logs and responses.
  std::string toString() const;

  // Parse "1,3:5,7:*" or "$"; error (ParseError::Kind::Bad, empty tag) on 0, empty parts,
  // numbers above 4294967295, "$" next to anything else, and any other character.
  static Result<SequenceSet, ParseError> parse(std::string_view text);
};

}  // namespace popbridge::imap
