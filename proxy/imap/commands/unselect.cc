#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3691: leave the mailbox without expunging.
void handleUnselect(Session& session, popbridge::imap::Command& /*command*/) {
  session.unselect();
  session.finish(Status::Ok, "", "UNSELECT completed");
}

}  // namespace popbridge::proxy::imap
