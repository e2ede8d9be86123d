#include <algorithm>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

// RFC 5161 ENABLE for CONDSTORE and QRESYNC (RFC 7162 3.1, 3.2.3), IMAP4rev2 (RFC 9051 2.1)
// and UTF8=ACCEPT (RFC 6855 3). The ENABLED response lists
// every capability asked for that popbridge can enable, also when it was on already (as
// Dovecot does); unknown ones are left out (RFC 5161 3.1).
void handleEnable(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::EnableArgs>(command.args);
  std::vector<std::string> enabled;
  for (std::string capability : args.capabilities) {
    if (capability == "CONDSTORE") {
      session.enableCondstore();
    } else if (capability == "QRESYNC") {
      session.enableQresync();
    } else if (capability == "IMAP4REV2") {
      session.enableRev2();
      capability = "IMAP4rev2";  // the capability's own spelling in ENABLED
    } else if (capability == "UTF8=ACCEPT") {
      session.enableUtf8Accept();
    } else {
      continue;
    }
    if (std::find(enabled.begin(), enabled.end(), capability) == enabled.end()) {
      enabled.push_back(capability);
    }
  }
  std::string out;
  popbridge::imap::appendEnabledResponse(out, enabled);
  session.send(std::move(out));
  session.finish(Status::Ok, "", "ENABLE completed");
}

}  // namespace popbridge::proxy::imap
