#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.1.1.
void handleCapability(Session& session, popbridge::imap::Command& /*command*/) {
  session.send("* CAPABILITY " + session.capabilities() + "\r\n");
  session.finish(Status::Ok, "", "CAPABILITY completed");
}

}  // namespace popbridge::proxy::imap
