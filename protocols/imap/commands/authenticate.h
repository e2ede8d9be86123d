#pragma once

#include <optional>
#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// AUTHENTICATE mechanism [initial-response] (RFC 3501 6.2.2, RFC 4959 SASL-IR).
struct AuthenticateArgs {
  std::string mechanism;                        // uppercased
  std::optional<std::string> initial_response;  // SASL-IR, still base64; "=" (empty) becomes ""
                                                // (the session puts each later client line here)
  std::optional<std::string> login_user;        // SASL LOGIN: the user name once the client sent it
};

// Parses " auth-type [SP (base64 / "=")]"; `in` is positioned right after the command name.
Result<AuthenticateArgs, ParseError> parseAuthenticateArgs(ArgParser& in);

}  // namespace popbridge::imap
