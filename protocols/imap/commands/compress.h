#pragma once

#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// COMPRESS <mechanism> (RFC 4978 3 and 5: "COMPRESS" SP algorithm, algorithm = atom).
struct CompressArgs {
  std::string mechanism;  // uppercased; only "DEFLATE" is defined
};

// Parses SP algorithm; `in` is positioned right after the command name. The session decides
// whether the mechanism is supported (RFC 4978 3: BAD for an unknown one).
Result<CompressArgs, ParseError> parseCompressArgs(ArgParser& in);

}  // namespace popbridge::imap
