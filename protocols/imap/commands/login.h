#pragma once

#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// LOGIN userid password (RFC 3501 6.2.3).
struct LoginArgs {
  std::string user;
  std::string password;
};

// Parses " userid SP password"; `in` is positioned right after the command name.
Result<LoginArgs, ParseError> parseLoginArgs(ArgParser& in);

}  // namespace popbridge::imap
