#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.3.3: a trailing hierarchy delimiter only says the client plans children.
void handleCreate(Session& session, popbridge::imap::Command& command) {
  std::string name = std::get<popbridge::imap::CreateArgs>(command.args).mailbox;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [name](store::UserStore& store) { return store.createMailbox(name); },
      [server, id = session.id()](store::Result<store::MailboxInfo> created) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!created) {
          s->finishWithStoreError(created.error());
          return;
        }
        s->finish(Status::Ok, "", "CREATE completed");
      });
}

}  // namespace popbridge::proxy::imap
