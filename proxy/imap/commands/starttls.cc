#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.2.1: the tagged OK is the last plaintext; the handshake follows it at once.
void handleStarttls(Session& session, popbridge::imap::Command& /*command*/) {
  if (session.secure()) {
    session.finish(Status::Bad, "", "TLS is already active");
    return;
  }
  if (session.connection().compressionActive()) {
    // Only after UNAUTHENTICATE (RFC 8437) can COMPRESS precede STARTTLS; TLS would then have
    // to run inside DEFLATE, the wrong way round (RFC 4978 4 puts DEFLATE inside TLS).
    session.finish(Status::No, "CANNOT", "STARTTLS is not possible once COMPRESS is active");
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
