#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/imap/special_use.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.3.3: a trailing hierarchy delimiter only says the client plans children.
// RFC 6154 5: CREATE name (USE (\Drafts)) creates a special-use mailbox, or nothing at all.
void handleCreate(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::CreateArgs>(command.args);
  std::string name = args.mailbox;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  std::uint32_t special_use = 0;
  for (const std::string& attribute : args.use) {
    const auto bit = specialUseBit(attribute);
    if (!bit || (*bit & store::kSupportedSpecialUse) == 0) {
      session.finish(Status::No, "USEATTR", "Special-use attribute not supported: " + attribute);
      return;
    }
    special_use |= *bit;
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [name, special_use](store::UserStore& store) {
        return store.createMailbox(name, special_use);
      },
      [server, id = session.id()](store::Result<store::MailboxInfo> created) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!created) {
          s->finishWithStoreError(created.error());
          return;
        }
        // RFC 8474 4.1: the new mailbox's MAILBOXID in the tagged OK.
        s->finish(Status::Ok, "MAILBOXID (" + created->object_id + ")", "CREATE completed");
      });
}

}  // namespace popbridge::proxy::imap
