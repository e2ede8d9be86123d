#include <memory>

#include "proxy/auth/password.h"
#include "proxy/core/worker.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/log.h"

namespace popbridge::proxy::imap {

void verifyAndLogin(Session& session, std::string user, std::string password) {
  const config::User* configured = session.server().config().findUser(user);
  // An unknown user is checked against a decoy hash, so both answers take as long.
  std::string hash = configured ? configured->password_hash : session.server().decoyHash();
  auto ok = std::make_shared<bool>(false);
  ImapServer* server = &session.server();
  runOnWorker(
      server->loop(),
      [ok, hash = std::move(hash), password = std::move(password), known = configured != nullptr] {
        *ok = auth::verifyPassword(password, hash) && known;
      },
      [server, id = session.id(), ok, user = std::move(user)] {
        Session* s = server->find(id);
        if (s == nullptr) return;
        UserContext* context = *ok ? server->userContext(user) : nullptr;
        if (context == nullptr) {
          log(LogSeverity::Info, s->logName(), "authentication failed for ", user, " from ",
              s->connection().peerAddress());
          s->loginFailed();
          return;
        }
        s->authenticated(*context, user);
        std::string alerts;
        for (const std::string& alert : server->alertsFor(user)) {
          popbridge::imap::appendUntaggedStatus(alerts, Status::Ok, "ALERT", alert);
        }
        s->send(std::move(alerts));
        s->finish(Status::Ok, "CAPABILITY " + s->capabilities(), "Logged in");
      });
}

// RFC 3501 6.2.3.
void handleLogin(Session& session, popbridge::imap::Command& command) {
  if (!session.loginAllowed()) {
    session.finish(Status::No, "PRIVACYREQUIRED", "Use STARTTLS or the TLS port before logging in");
    return;
  }
  auto& args = std::get<popbridge::imap::LoginArgs>(command.args);
  verifyAndLogin(session, std::move(args.user), std::move(args.password));
}

}  // namespace popbridge::proxy::imap
