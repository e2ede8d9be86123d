#include "protocols/imap/commands/authenticate.h"

namespace popbridge::imap {
namespace {

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// base64 (RFC 3501 9): groups of four, '=' padding only at the end.
bool isBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return false;
  }
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
    } else if (padding > 0 || !isBase64Char(c)) {
      return false;
    }
  }
  return padding <= 2;
}

}  // namespace

Result<AuthenticateArgs, ParseError> parseAuthenticateArgs(ArgParser& in) {
  AuthenticateArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mechanism = in.keyword();
  if (!mechanism) {
    return fail(mechanism.error());
  }
  args.mechanism = std::move(*mechanism);
  if (in.consumeIf(' ') && !in.atEnd()) {
    auto response = in.atom();
    if (!response) {
      return fail(badSyntax("Invalid initial response"));
    }
    // RFC 4959 3: "=" stands for an empty initial response.
    if (*response == "=") {
      args.initial_response = std::string();
    } else if (isBase64(*response)) {
      args.initial_response = std::move(*response);
    } else {
      return fail(badSyntax("Initial response is not base64"));
    }
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
