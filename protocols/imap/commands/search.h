#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/limits.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// One search-key of RFC 3501 6.4.4 / RFC 9051 6.4.4 (and MODSEQ of RFC 7162 3.1.5), as a node
// of a tree stored flat in pre-order: a node's children follow it directly, the first at
// index + 1 and each next one at the previous child's `end`. Walking the vector backwards thus
// meets every child before its parent, which lets both the parser and the evaluators work
// without recursion however deep a client nests NOT, OR and parentheses.
struct SearchKey {
  enum class Kind : std::uint8_t {
    And,  // "(" key *(SP key) ")" and the implicit AND of the command's keys; 1+ children
    Or,   // OR key key; 2 children
    Not,  // NOT key; 1 child
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    Seen,
    Recent,
    New,
    Old,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    Keyword,     // value
    Unkeyword,   // value
    Bcc,         // value
    Cc,          // value
    From,        // value
    Subject,     // value
    To,          // value
    Header,      // field, value
    Body,        // value
    Text,        // value
    Before,      // day: INTERNALDATE
    On,          // day
    Since,       // day
    SentBefore,  // day: the Date header
    SentOn,      // day
    SentSince,   // day
    Larger,      // number
    Smaller,     // number
    Modseq,      // number (RFC 7162 3.1.5; the optional entry name and type are dropped)
    Uid,         // set of UIDs
    Sequence,    // set of message sequence numbers
  };
  Kind kind = Kind::All;
  std::uint32_t end = 0;     // index in SearchArgs::keys one past this key's subtree
  std::string field;         // HEADER field name as sent
  std::string value;         // string or flag-keyword argument as sent (astring, literals allowed)
  std::uint64_t number = 0;  // LARGER / SMALLER octets, MODSEQ value
  std::int64_t day = 0;      // date keys: days since 1970-01-01 of the date given (no time/zone)
  SequenceSet set;           // Uid / Sequence
};

// SEARCH [CHARSET astring] 1*(SP search-key) (RFC 3501 6.4.4) and UID SEARCH (6.4.8).
struct SearchArgs {
  std::optional<std::string> charset;  // as sent, uppercased; nullopt when not given
  std::vector<SearchKey> keys;         // pre-order; keys[0] is Kind::And over the top-level keys
};

// Parses " [CHARSET astring SP] search-key *(SP search-key)"; `in` is positioned right after the
// command name. The key tree is built with an explicit stack; parenthesis nesting deeper than
// `limits.max_depth` is ParseError{TooLong} (the CommandReader counts parentheses while framing
// too). NOT and OR chains are bounded only by the line length: nothing here or in the
// evaluators recurses over them. The charset is not checked here: an unknown one must be
// answered NO [BADCHARSET] (RFC 3501 6.4.4), which the handler does. RETURN (ESEARCH, RFC 4731)
// and "$" (SEARCHRES, RFC 5182) are syntax errors for now. Pure; any thread.
Result<SearchArgs, ParseError> parseSearchArgs(ArgParser& in, const Limits& limits);

// Parses an IMAP date (RFC 3501 9: date-day "-" date-month "-" date-year, date-day 1 or 2
// digits, month name in any case) into days since 1970-01-01. Quotes are expected to be
// removed. Pure; any thread.
Result<std::int64_t, ParseError> parseSearchDate(std::string_view text);

// The "* SEARCH 2 5 7\r\n" response (RFC 3501 7.2.5) for `numbers` (sequence numbers or UIDs,
// written in the order given); with `modseq`, "* SEARCH 2 5 7 (MODSEQ 917)\r\n" (RFC 7162
// 3.1.5), left out when nothing matched. Appends to `out`. Pure; any thread.
void appendSearchResponse(std::string& out, const std::vector<std::uint32_t>& numbers,
                          std::optional<std::uint64_t> modseq = std::nullopt);

// The key's name as a client writes it ("UNSEEN", "HEADER"); empty for And and Sequence, which
// have none. Pure; any thread.
std::string_view searchKeyName(SearchKey::Kind kind);

// The charsets SEARCH accepts, for NO [BADCHARSET (...)] (RFC 3501 7.1).
inline constexpr const char* kSearchCharsets = "US-ASCII UTF-8";

// True when `charset` (any case) is one SEARCH accepts. Pure; any thread.
bool searchCharsetSupported(std::string_view charset);

}  // namespace popbridge::imap
