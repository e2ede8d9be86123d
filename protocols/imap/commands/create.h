#pragma once

#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// CREATE, DELETE, SUBSCRIBE and UNSUBSCRIBE mailbox (RFC 3501 6.3.3-6.3.7).
struct CreateArgs {
  std::string mailbox;
};

// Parses " mailbox"; `in` is positioned right after the command name. CREATE parameters
// (RFC 4466 2.2) are a syntax error for now.
Result<CreateArgs, ParseError> parseCreateArgs(ArgParser& in);

}  // namespace popbridge::imap
