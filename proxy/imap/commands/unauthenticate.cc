#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 8437 3: the session returns to the not-authenticated state, as if just connected but with
// its TLS and COMPRESS layers kept: the selected mailbox is left without an expunge and every
// ENABLEd extension is off again. The tagged OK carries the capabilities that state offers.
void handleUnauthenticate(Session& session, popbridge::imap::Command& /*command*/) {
  session.unauthenticate();
  session.finish(Status::Ok, "CAPABILITY " + session.capabilities(), "UNAUTHENTICATE completed");
}

}  // namespace popbridge::proxy::imap
