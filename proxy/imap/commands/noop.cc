#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.1.2 NOOP and 6.4.1 CHECK: nothing to do but report changes, which finish() does.
void handleNoop(Session& session, popbridge::imap::Command& command) {
  if (command.name == "NOOP") session.noteActivity();
  session.finish(Status::Ok, "", command.name + " completed");
}

}  // namespace popbridge::proxy::imap
