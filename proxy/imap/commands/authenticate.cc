#include <optional>
#include <string>

#include "protocols/pop3/commands.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {
namespace {

// The client's next SASL response: base64 decoded, or nullopt after the command was ended
// (cancelled with "*", RFC 3501 6.2.2, or not base64).
std::optional<std::string> takeResponse(Session& session, popbridge::imap::AuthenticateArgs& args) {
  std::string response;
  response.swap(*args.initial_response);
  args.initial_response.reset();
  if (response == "*") {
    session.finish(Status::Bad, "", "Authentication cancelled");
    return std::nullopt;
  }
  // "=" is an empty initial response (RFC 4959 3); an empty line is an empty response.
  if (response == "=" || response.empty()) return std::string();
  auto decoded = pop3::base64Decode(response);
  if (!decoded) {
    session.finish(Status::Bad, "", "Invalid base64 in the SASL response");
    return std::nullopt;
  }
  return std::move(*decoded);
}

// SASL PLAIN (RFC 4616): message = [authzid] NUL authcid NUL passwd.
void plain(Session& session, const std::string& message) {
  const std::size_t first = message.find('\0');
  const std::size_t second =
      first == std::string::npos ? std::string::npos : message.find('\0', first + 1);
  if (second == std::string::npos) {
    session.finish(Status::Bad, "", "Malformed SASL PLAIN response");
    return;
  }
  std::string authzid = message.substr(0, first);
  std::string user = message.substr(first + 1, second - first - 1);
  std::string password = message.substr(second + 1);
  if (!authzid.empty() && authzid != user) {
    session.finish(Status::No, "AUTHORIZATIONFAILED", "Cannot act as another user");
    return;
  }
  verifyAndLogin(session, std::move(user), std::move(password));
}

}  // namespace

// RFC 3501 6.2.2 with SASL PLAIN (RFC 4616), SASL LOGIN (draft-murchison-sasl-login) and
// SASL-IR (RFC 4959). Runs once per client line: the session hands each continuation line over
// in `initial_response`, and the LOGIN user name waits in `login_user` between the two steps.
void handleAuthenticate(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::AuthenticateArgs>(command.args);
  const bool is_plain = args.mechanism == "PLAIN";
  if (!is_plain && args.mechanism != "LOGIN") {
    session.finish(Status::No, "CANNOT", "Unsupported authentication mechanism");
    return;
  }
  if (!session.loginAllowed()) {
    session.finish(Status::No, "PRIVACYREQUIRED", "Use STARTTLS or the TLS port before logging in");
    return;
  }
  if (!args.initial_response) {
    // PLAIN starts with an empty challenge. LOGIN is server-first: its first challenge is
    // "Username:" (as Dovecot and Cyrus send; the draft suggests "User Name", and clients
    // ignore the text), the second "Password:".
    if (is_plain) {
      session.send("+ \r\n");
    } else {
      session.send("+ VXNlcm5hbWU6\r\n");
    }
    session.awaitLine();
    return;
  }
  auto response = takeResponse(session, args);
  if (!response) return;
  if (is_plain) {
    plain(session, *response);
    return;
  }
  if (!args.login_user) {
    // A LOGIN "initial response" (SASL-IR) has no place in a server-first mechanism; like
    // Dovecot and Cyrus, popbridge takes it as the answer to the first challenge.
    args.login_user = std::move(*response);
    session.send("+ UGFzc3dvcmQ6\r\n");
    session.awaitLine();
    return;
  }
  verifyAndLogin(session, std::move(*args.login_user), std::move(*response));
}

}  // namespace popbridge::proxy::imap
