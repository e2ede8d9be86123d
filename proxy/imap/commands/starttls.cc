#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.2.1: the tagged OK is the last plaintext; the handshake follows it at once.
void handleStarttls(Session& session, popbridge::imap::Command& /*command*/) {
  if (session.secure()) {
    session.finish(Status::Bad, "", "TLS is already active");
    return;
  }
  if (session.listener().tls != config::TlsMode::Starttls || !session.listener().tls_context) {
    session.finish(Status::No, "CANNOT", "STARTTLS is not offered on this port");
    return;
  }
  session.startTlsAfterResponse();
  session.finish(Status::Ok, "", "Begin TLS negotiation now");
}

}  // namespace popbridge::proxy::imap
