#include <cstdint>
#include <memory>
#include <string>

#include "proxy/auth/password.h"
#include "proxy/core/worker.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/log.h"

namespace popbridge::proxy::imap {

namespace {

// Loop thread: the session logs in (or is refused) once its password was checked.
void completeLogin(ImapServer& server, std::uint64_t session_id, bool ok, const std::string& user) {
  Session* s = server.find(session_id);
  if (s == nullptr) return;
  UserContext* context = ok ? server.userContext(user) : nullptr;
  if (context == nullptr) {
    log(LogSeverity::Info, s->logName(), "authentication failed for ", user, " from ",
        s->connection().peerAddress());
    s->loginFailed();
    return;
  }
  s->authenticated(*context, user);
  std::string alerts;
  for (const std::string& alert : server.alertsFor(user)) {
    popbridge::imap::appendUntaggedStatus(alerts, Status::Ok, "ALERT", alert);
  }
  s->send(std::move(alerts));
  s->finish(Status::Ok, "CAPABILITY " + s->capabilities(), "Logged in");
}

}  // namespace

void verifyAndLogin(Session& session, std::string user, std::string password) {
  ImapServer* server = &session.server();
  const config::User* configured = server->config().findUser(user);
  // The same user with the same password and configured hash as a recent successful check: no
  // second crypt(3) (LoginCache says why that is safe), and no worker round trip.
  if (configured != nullptr && server->loginCache().matches(user, configured->password_hash,
                                                            password, LoginCache::Clock::now())) {
    completeLogin(*server, session.id(), true, user);
    return;
  }
  // An unknown user is checked against a decoy hash, so both answers take as long.
  auto hash = std::make_shared<const std::string>(configured ? configured->password_hash
                                                             : server->decoyHash());
  auto secret = std::make_shared<std::string>(std::move(password));
  auto ok = std::make_shared<bool>(false);
  runOnWorker(
      server->loop(),
      [ok, hash, secret, known = configured != nullptr] {
        *ok = auth::verifyPassword(*secret, *hash) && known;
      },
      [server, id = session.id(), ok, hash, secret, user = std::move(user)] {
        // Remembered only if the configuration still holds the hash that was checked.
        const config::User* now_configured = server->config().findUser(user);
        if (*ok && now_configured != nullptr && now_configured->password_hash == *hash) {
          server->loginCache().remember(user, *hash, *secret, LoginCache::Clock::now());
        }
        completeLogin(*server, id, *ok, user);
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
