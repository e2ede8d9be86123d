#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// STATUS mailbox (items) (RFC 3501 6.3.10, RFC 9051 6.3.11, RFC 7162 3.1.6 HIGHESTMODSEQ).
struct StatusArgs {
  std::string mailbox;
  // Uppercased, in the order sent: MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE HIGHESTMODSEQ
  // APPENDLIMIT (RFC 7889 4) DELETED (RFC 9051 6.3.11) MAILBOXID (RFC 8474 4.2).
  std::vector<std::string> items;
};

// Parses " mailbox SP "(" status-att *(SP status-att) ")""; `in` is positioned right after the
// command name. Items outside the list above are a syntax error.
Result<StatusArgs, ParseError> parseStatusArgs(ArgParser& in);

// True for the uppercased STATUS items listed above (also used by LIST RETURN (STATUS ...)).
bool isStatusItem(std::string_view item);

}  // namespace popbridge::imap
