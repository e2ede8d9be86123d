#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 2342: one personal namespace, no prefix, "/" as the hierarchy delimiter.
void handleNamespace(Session& session, popbridge::imap::Command& /*command*/) {
  session.send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  session.finish(Status::Ok, "", "NAMESPACE completed");
}

}  // namespace popbridge::proxy::imap
