#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.3.6 SUBSCRIBE and 6.3.7 UNSUBSCRIBE. A name may be subscribed whether or not a
// mailbox of that name exists (the server MAY check; popbridge does not, like Dovecot), and it
// stays subscribed when the mailbox is deleted or renamed (RFC 9051 6.3.4).
void handleSubscribe(Session& session, popbridge::imap::Command& command) {
  std::string name = std::get<popbridge::imap::CreateArgs>(command.args).mailbox;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  const bool subscribe = command.name == "SUBSCRIBE";
  ImapServer* server = &session.server();
  session.user()->read<store::Result<void>>(
      [name, subscribe](store::UserStore& store) {
        return subscribe ? store.subscribe(name) : store.unsubscribe(name);
      },
      [server, id = session.id(), verb = command.name](store::Result<void> done) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!done) {
          s->finishWithStoreError(done.error());
          return;
        }
        s->finish(Status::Ok, "", verb + " completed");
      });
}

}  // namespace popbridge::proxy::imap
