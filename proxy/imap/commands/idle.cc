#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 2177: changes are reported the moment they commit, until the client sends DONE.
void handleIdle(Session& session, popbridge::imap::Command& /*command*/) {
  session.send("+ idling\r\n");
  session.setIdling(true);
  session.noteActivity();
  session.awaitLine();
}

}  // namespace popbridge::proxy::imap
