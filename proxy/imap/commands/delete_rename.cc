#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

std::string withoutTrailingDelimiter(std::string name) {
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  return name;
}

}  // namespace

// RFC 3501 6.3.4. The messages go with the mailbox; mailboxes below it stay (RFC 3501 allows
// either). POP ledger rows remain, so deleted mail is never pulled again.
void handleDelete(Session& session, popbridge::imap::Command& command) {
  std::string name =
      withoutTrailingDelimiter(std::get<popbridge::imap::CreateArgs>(command.args).mailbox);
  if (name == "INBOX") {
    session.finish(Status::No, "CANNOT", "INBOX cannot be deleted");
    return;
  }
  const SelectedMailbox* selected = session.selected();
  if (selected != nullptr && selected->name == name) {
    // RFC 3501 leaves this open; refusing keeps this client's view well-defined.
    session.finish(Status::No, "INUSE", "Close the mailbox before deleting it");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<void>>(
      [name](store::UserStore& store) { return store.deleteMailbox(name); },
      [server, id = session.id()](store::Result<void> deleted) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!deleted) {
          s->finishWithStoreError(deleted.error());
          return;
        }
        s->finish(Status::Ok, "", "DELETE completed");
      });
}

// RFC 3501 6.3.5: mailboxes below move along with it; renaming INBOX moves its messages into
// the new mailbox and leaves INBOX empty. UIDVALIDITY and UIDs are kept.
void handleRename(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::RenameArgs>(command.args);
  std::string from = withoutTrailingDelimiter(std::move(args.from));
  std::string to = withoutTrailingDelimiter(std::move(args.to));
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [from, to](store::UserStore& store) { return store.renameMailbox(from, to); },
      [server, id = session.id()](store::Result<store::MailboxInfo> renamed) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!renamed) {
          s->finishWithStoreError(renamed.error());
          return;
        }
        s->finish(Status::Ok, "", "RENAME completed");
      });
}

}  // namespace popbridge::proxy::imap
