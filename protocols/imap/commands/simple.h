#pragma once

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// Arguments of the commands that take none: CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE
// UNSELECT EXPUNGE IDLE NAMESPACE.
struct NoArgs {};

// Checks that nothing follows the command name. `in` is positioned right after the name.
Result<NoArgs, ParseError> parseNoArgs(ArgParser& in);

}  // namespace popbridge::imap
