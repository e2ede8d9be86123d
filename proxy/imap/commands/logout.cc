#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.1.3: BYE, then the tagged OK, then the server closes.
void handleLogout(Session& session, popbridge::imap::Command& /*command*/) {
  session.send("* BYE popbridge logging out\r\n");
  session.logoutAfterResponse();
  session.finish(Status::Ok, "", "LOGOUT completed");
}

}  // namespace popbridge::proxy::imap
