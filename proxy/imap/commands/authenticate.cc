#include <string>

#include "protocols/pop3/commands.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.2.2 with SASL PLAIN (RFC 4616) and SASL-IR (RFC 4959). Runs twice when the client
// sends no initial response: once to send the empty challenge, once with the client's line.
void handleAuthenticate(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::AuthenticateArgs>(command.args);
  if (args.mechanism != "PLAIN") {
    session.finish(Status::No, "CANNOT", "Unsupported authentication mechanism");
    return;
  }
  if (!session.loginAllowed()) {
    session.finish(Status::No, "PRIVACYREQUIRED", "Use STARTTLS or the TLS port before logging in");
    return;
  }
  if (!args.initial_response) {
    session.send("+ \r\n");
    session.awaitLine();
    return;
  }
  std::string response;
  response.swap(*args.initial_response);
  args.initial_response.reset();
  if (response == "*") {
    session.finish(Status::Bad, "", "Authentication cancelled");
    return;
  }
  // "=" is an empty initial response (RFC 4959 3).
  auto decoded = response == "=" ? Result<std::string, pop3::ReplyError>(std::string())
                                 : pop3::base64Decode(response);
  if (!decoded) {
    session.finish(Status::Bad, "", "Invalid base64 in the SASL response");
    return;
  }
  // message = [authzid] NUL authcid NUL passwd
  const std::string& plain = *decoded;
  const std::size_t first = plain.find('\0');
  const std::size_t second =
      first == std::string::npos ? std::string::npos : plain.find('\0', first + 1);
  if (second == std::string::npos) {
    session.finish(Status::Bad, "", "Malformed SASL PLAIN response");
    return;
  }
  std::string authzid = plain.substr(0, first);
  std::string user = plain.substr(first + 1, second - first - 1);
  std::string password = plain.substr(second + 1);
  if (!authzid.empty() && authzid != user) {
    session.finish(Status::No, "AUTHORIZATIONFAILED", "Cannot act as another user");
    return;
  }
  verifyAndLogin(session, std::move(user), std::move(password));
}

}  // namespace popbridge::proxy::imap
