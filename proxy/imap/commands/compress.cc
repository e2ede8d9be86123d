#include <variant>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 4978 3: COMPRESS DEFLATE, in the authenticated and selected states. After the tagged OK
// both directions are raw DEFLATE (inside TLS, if TLS is on).
void handleCompress(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::CompressArgs>(command.args);
  if (args.mechanism != "DEFLATE") {
    session.finish(Status::Bad, "", "Unknown compression mechanism");
    return;
  }
  if (session.connection().compressionActive()) {
    // RFC 4978 3: NO with COMPRESSIONACTIVE when that compression is on already.
    session.finish(Status::No, "COMPRESSIONACTIVE", "DEFLATE is already active");
    return;
  }
  session.compressAfterResponse();
  session.finish(Status::Ok, "", "DEFLATE active");
}

}  // namespace popbridge::proxy::imap
