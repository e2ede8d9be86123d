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
    Uid,         // set of UIDs ("$" allowed: RFC 5182)
    Sequence,    // set of message sequence numbers ("$" allowed: RFC 5182)
    Older,       // number: seconds; INTERNALDATE at least that long before now (RFC 5032)
    Younger,     // number: seconds; INTERNALDATE at most that long before now (RFC 5032)
    EmailId,     // value: an objectid (RFC 8474 6)
    ThreadId,    // value: an objectid (RFC 8474 6)
  };
  Kind kind = Kind::All;
  std::uint32_t end = 0;     // index in SearchArgs::keys one past this key's subtree
  std::string field;         // HEADER field name as sent
  std::string value;         // string or flag-keyword argument as sent (astring, literals allowed)
  std::uint64_t number = 0;  // LARGER / SMALLER octets, MODSEQ value, OLDER / YOUNGER seconds
  std::int64_t day = 0;      // date keys: days since 1970-01-01 of the date given (no time/zone)
  SequenceSet set;           // Uid / Sequence
};

// The RETURN options of an extended SEARCH (RFC 4731 3.1, RFC 5182 2): what the ESEARCH
// response carries, and whether the result is saved as "$". RETURN () means ALL.
struct SearchReturn {
  bool min = false;
  bool max = false;
  bool all = false;
  bool count = false;
  bool save = false;  // SEARCHRES
};

// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
// (RFC 4466 2.6, RFC 4731 3.1, RFC 5182 2), also for SORT (RFC 5267 3); `in` is right after
// "RETURN" and is left after the ")". Pure; any thread.
Result<SearchReturn, ParseError> parseSearchReturnOptions(ArgParser& in);

// SEARCH [RETURN (...)] [CHARSET astring] 1*(SP search-key) (RFC 3501 6.4.4, RFC 4466 2.6,
// RFC 4731) and UID SEARCH (RFC 3501 6.4.8).
struct SearchArgs {
  std::optional<std::string> charset;  // as sent, uppercased; nullopt when not given
  std::vector<SearchKey> keys;         // pre-order; keys[0] is Kind::And over the top-level keys
  // Set when the command had RETURN (...): the answer is then ESEARCH (or nothing for SAVE
  // alone), never SEARCH. RETURN () arrives here as {all = true}.
  std::optional<SearchReturn> returns;
};

// Parses " [RETURN SP "(" [option *(SP option)] ")" SP] [CHARSET SP astring SP] search-key
// *(SP search-key)"; `in` is positioned right after the command name. Return options are MIN,
// MAX, ALL, COUNT and SAVE, any case, each at most once; others are a syntax error. The key tree is
// built with an explicit stack; parenthesis nesting deeper than `limits.max_depth` is
// ParseError{TooLong} (the CommandReader counts parentheses while framing too). NOT and OR chains
// are bounded only by the line length: nothing here or in the evaluators recurses over them. The
// charset is not checked here: an unknown one must be answered NO [BADCHARSET] (RFC 3501 6.4.4),
// which the handler does.
// "$" (RFC 5182) may stand as a key or after UID; OLDER and YOUNGER (RFC 5032) take a non-zero
// 32-bit number of seconds. Pure; any thread.
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

// The ESEARCH response (RFC 4731 3.1, RFC 4466 2.6.2):
//   * ESEARCH (TAG "a1") UID MIN 2 MAX 47 ALL 2:5,7,47 COUNT 6 MODSEQ 917
// Fields are written in that order when set; `all` holds ascending numbers, written as a
// sequence-set with runs collapsed ("2:5,7").
struct EsearchResponse {
  std::string tag;  // the command's tag (tag chars need no escaping; written quoted)
  bool uid = false;
  std::optional<std::uint32_t> min;
  std::optional<std::uint32_t> max;
  std::optional<std::vector<std::uint32_t>> all;
  std::optional<std::uint32_t> count;
  std::optional<std::uint64_t> modseq;  // RFC 7162 3.1.5
};

// Appends `response` with CRLF to `out`. Pure; any thread.
void appendEsearchResponse(std::string& out, const EsearchResponse& response);

// Ascending numbers as a sequence-set with runs collapsed: {1,2,3,5} -> "1:3,5". Appends to
// `out`; nothing for an empty list. Pure; any thread.
void appendCompactSet(std::string& out, const std::vector<std::uint32_t>& ascending);

// The key's name as a client writes it ("UNSEEN", "HEADER"); empty for And and Sequence, which
// have none. Pure; any thread.
std::string_view searchKeyName(SearchKey::Kind kind);

// The charsets SEARCH accepts, for NO [BADCHARSET (...)] (RFC 3501 7.1).
inline constexpr const char* kSearchCharsets = "US-ASCII UTF-8";

// True when `charset` (any case) is one SEARCH accepts. Pure; any thread.
bool searchCharsetSupported(std::string_view charset);

}  // namespace popbridge::imap
