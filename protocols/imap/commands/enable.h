#pragma once

#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// ENABLE capability... (RFC 5161 3.1).
struct EnableArgs {
  std::vector<std::string> capabilities;  // uppercased, in the order sent
};

// Parses 1*(SP capability); `in` is positioned right after the command name.
Result<EnableArgs, ParseError> parseEnableArgs(ArgParser& in);

// "* ENABLED CONDSTORE QRESYNC\r\n" (RFC 5161 3.2) for the capabilities this ENABLE turned on,
// in the order given; "* ENABLED\r\n" when none. Appends to `out`. Pure; any thread.
void appendEnabledResponse(std::string& out, const std::vector<std::string>& capabilities);

}  // namespace popbridge::imap
