#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 2971: the client's fields are only logged by name; the server names itself.
void handleId(Session& session, popbridge::imap::Command& /*command*/) {
  session.send("* ID (\"name\" \"popbridge\" \"version\" \"" POPBRIDGE_VERSION "\")\r\n");
  session.finish(Status::Ok, "", "ID completed");
}

}  // namespace popbridge::proxy::imap
