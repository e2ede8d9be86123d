#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// One message of an APPEND: [flag-list] [date-time] literal (RFC 3501 6.3.11, RFC 3516 4.4
// literal8).
struct AppendMessage {
  std::vector<std::string> flags;
  std::optional<std::string> internal_date;  // as sent, e.g. "17-Jul-1996 02:44:25 -0700";
                                             // already checked with parseDateTime()
  // The literal, unless the reader streamed it out (CommandReader::setStreamedLiteralLimit):
  // then `message` is empty and `streamed` is its index among the command's streamed literals.
  std::string message;
  std::optional<std::size_t> streamed;
  std::uint64_t size = 0;  // of the literal, held or streamed
  bool binary = false;     // sent as literal8 "~{n}"
  bool utf8 = false;       // sent as UTF8 (...) (RFC 6855 4)
};

// APPEND mailbox 1*append-message (MULTIAPPEND, RFC 3502 6.3.11): one or more messages, all
// stored or none.
struct AppendArgs {
  std::string mailbox;
  std::vector<AppendMessage> messages;  // at least one, in the order sent
};

// Parses " mailbox 1*(SP [flag-list SP] [date-time SP] literal)"; `in` is positioned right
// after the command name. Each message must be a literal or literal8.
Result<AppendArgs, ParseError> parseAppendArgs(ArgParser& in);

}  // namespace popbridge::imap
