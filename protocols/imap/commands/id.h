#pragma once

#include <string>
#include <utility>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// ID ( "field" "value" ... ) / ID NIL (RFC 2971 3.1).
struct IdArgs {
  // NIL -> empty list; a NIL value becomes an empty string.
  std::vector<std::pair<std::string, std::string>> fields;
};

// Parses " (string SP nstring *(SP string SP nstring))" or " NIL"; `in` is positioned right
// after the command name. RFC 2971 3.3 bounds (30 pairs, 30-byte fields, 1024-byte values) are
// enforced.
Result<IdArgs, ParseError> parseIdArgs(ArgParser& in);

}  // namespace popbridge::imap
