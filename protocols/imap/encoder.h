#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// Appenders for server responses. Each appends to a caller-owned std::string (STYLE.md 4.3),
// borrows its other arguments only for the call, is pure and may run on any thread.

// astring (RFC 3501 9): an atom when every byte is a 7-bit ASTRING-CHAR and the text is not
// "NIL" in any case; else a quoted string when it has no CR, LF, NUL or 8-bit byte; else a
// literal "{n}\r\n" followed by the bytes.
void appendAstring(std::string& out, std::string_view s);

// A mailbox name already in its wire spelling (modified UTF-7 or UTF-8): as appendAstring(),
// except that with MailboxNames::Utf8 bytes >= 0x80 may stand in a quoted string (RFC 9051 9
// quoted-char, RFC 6855 3); a name of 7-bit bytes comes out exactly as appendAstring() writes it.
void appendMailboxName(std::string& out, std::string_view wire_name, MailboxNames names);

// string: quoted as above when possible, else a literal (never an atom).
void appendString(std::string& out, std::string_view s);

// nstring: NIL when `s` is empty, else appendString().
void appendNString(std::string& out, const std::optional<std::string>& s);

// "{size}\r\n": the header of a literal whose `size` bytes the caller sends next.
void appendLiteralHeader(std::string& out, std::uint64_t size);

// "(\Seen $Label)": flags are written as given; an empty span gives "()".
void appendFlagList(std::string& out, std::span<const std::string> flags);

// A uid-set (RFC 4315 3) for ascending, unique `uids`: runs of consecutive values become
// "first:last", e.g. {1,2,3,7} -> "1:3,7". Nothing is appended for an empty list.
void appendUidSet(std::string& out, std::span<const std::uint32_t> uids);

// "* VANISHED 3:5\r\n", or with `earlier` "* VANISHED (EARLIER) 3:5\r\n" (RFC 7162 3.2.10) for
// ascending, unique `uids`. Nothing is appended for an empty list: VANISHED needs a uid.
enum class Vanished { Now, Earlier };
void appendVanished(std::string& out, std::span<const std::uint32_t> uids, Vanished kind);

// Status responses (RFC 3501 7.1).
enum class Status { Ok, No, Bad, Bye, PreAuth };

// "tag OK [CODE] text\r\n". `code` goes between brackets without them and may be empty (then no
// brackets). An empty `text` is left out. CR, LF and NUL in code or text become spaces so a
// message can never end the line early.
void appendTagged(std::string& out, std::string_view tag, Status status, std::string_view code,
                  std::string_view text);

// "* OK [CODE] text\r\n", same rules as appendTagged().
void appendUntaggedStatus(std::string& out, Status status, std::string_view code,
                          std::string_view text);

// INTERNALDATE (RFC 3501 9 date-time): "\"17-Jul-1996 02:44:25 -0700\"" for the instant
// `unix_seconds` shown in the zone `tz_offset_minutes` east of UTC. Days below 10 are written
// with a leading space (date-day-fixed). An offset beyond +-23:59 is shown as +0000; instants
// outside the years 0000-9999 are clamped to them.
void appendDateTime(std::string& out, std::int64_t unix_seconds, int tz_offset_minutes);

// Parses an IMAP date-time as used by APPEND ("17-Jul-1996 02:44:25 -0700", surrounding quotes
// optional, day as " 7", "7" or "07", month names in any case). Returns the instant in unix
// seconds and the zone offset in minutes east of UTC, or ParseError{Bad}.
Result<std::pair<std::int64_t, int>, ParseError> parseDateTime(std::string_view text);

// Mailbox name match for LIST (RFC 3501 6.3.8): '*' matches anything, '%' anything but the
// hierarchy delimiter. Other bytes match themselves, except that the name INBOX (and the INBOX
// part of "INBOX<delimiter>...") matches case-insensitively (RFC 3501 5.1). Runs in
// O(pattern * name) time without recursion.
bool listMatch(std::string_view pattern, std::string_view name, char delimiter);

}  // namespace popbridge::imap
