#include "protocols/imap/commands/enable.h"

namespace popbridge::imap {

Result<EnableArgs, ParseError> parseEnableArgs(ArgParser& in) {
  EnableArgs args;
  do {
    auto ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto capability = in.keyword();
    if (!capability) {
      return fail(capability.error());
    }
    args.capabilities.push_back(std::move(*capability));
  } while (!in.atEnd());
  return args;
}

void appendEnabledResponse(std::string& out, const std::vector<std::string>& capabilities) {
  out += "* ENABLED";
  for (const std::string& capability : capabilities) {
    out += ' ';
    out += capability;
  }
  out += "\r\n";
}

}  // namespace popbridge::imap
