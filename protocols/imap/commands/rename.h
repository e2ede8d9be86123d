#pragma once

#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// RENAME existing new (RFC 3501 6.3.5).
struct RenameArgs {
  std::string from;
  std::string to;
};

// Parses " mailbox SP mailbox"; `in` is positioned right after the command name.
Result<RenameArgs, ParseError> parseRenameArgs(ArgParser& in);

}  // namespace popbridge::imap
