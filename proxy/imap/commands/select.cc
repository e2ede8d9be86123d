#include <set>
#include <utility>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

struct Snapshot {
  store::MailboxInfo info;
  std::vector<store::MessageInfo> messages;
};

void sendSelectResponses(Session& session, SelectedMailbox& box) {
  std::set<std::string> keywords;
  std::uint32_t first_unseen = 0;
  for (std::size_t i = 0; i < box.messages.size(); ++i) {
    const store::MessageInfo& message = box.messages[i];
    keywords.insert(message.flags.keywords.begin(), message.flags.keywords.end());
    if (first_unseen == 0 && (message.flags.system & store::kSeen) == 0) {
      first_unseen = static_cast<std::uint32_t>(i + 1);
    }
  }
  std::string flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const std::string& keyword : keywords) flags += " " + keyword;
  // RFC 3501 6.3.1: FLAGS, EXISTS, RECENT, then the OK codes.
  std::string out = "* FLAGS (" + flags + ")\r\n";
  out += "* " + std::to_string(box.messages.size()) + " EXISTS\r\n";
  out += "* 0 RECENT\r\n";
  if (box.read_only) {
    out += "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n";
  } else {
    out += "* OK [PERMANENTFLAGS (" + flags + " \\*)] Flags permitted\r\n";
  }
  if (first_unseen != 0) {
    out += "* OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen\r\n";
  }
  out += "* OK [UIDVALIDITY " + std::to_string(box.uidvalidity) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(box.uidnext) + "] Predicted next UID\r\n";
  session.send(std::move(out));
}

}  // namespace

// RFC 3501 6.3.1 SELECT and 6.3.2 EXAMINE. The session subscribes to the mailbox's changes
// before it reads the snapshot, so nothing committed in between is missed (applyPending skips
// what the snapshot already holds).
void handleSelect(Session& session, popbridge::imap::Command& command) {
  std::string name = std::get<popbridge::imap::SelectArgs>(command.args).mailbox;
  const bool read_only = command.name == "EXAMINE";
  // A SELECT that fails leaves no mailbox selected (RFC 3501 6.3.1).
  session.unselect();
  ImapServer* server = &session.server();
  const std::uint64_t id = session.id();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [name](store::UserStore& store) { return store.mailbox(name); },
      [server, id, read_only](store::Result<store::MailboxInfo> info) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!info) {
          s->finishWithStoreError(info.error());
          return;
        }
        s->beginSelect(info->id, info->name, read_only);
        s->user()->read<store::Result<Snapshot>>(
            [mailbox_id = info->id,
             mailbox = info->name](store::UserStore& store) -> store::Result<Snapshot> {
              auto fresh = store.mailbox(mailbox);
              if (!fresh) return fail(fresh.error());
              auto messages = store.listMessages(mailbox_id);
              if (!messages) return fail(messages.error());
              return Snapshot{*fresh, std::move(*messages)};
            },
            [server, id](store::Result<Snapshot> snapshot) {
              Session* current = server->find(id);
              if (current == nullptr || current->selected() == nullptr) return;
              if (!snapshot) {
                current->unselect();
                current->finishWithStoreError(snapshot.error());
                return;
              }
              SelectedMailbox& box = *current->selected();
              box.messages = std::move(snapshot->messages);
              box.uidvalidity = snapshot->info.uidvalidity;
              box.uidnext = snapshot->info.uidnext;
              box.loaded = true;
              current->applyPending(Session::Announce::No, Session::ExpungeRule::Allow);
              current->noteActivity();
              sendSelectResponses(*current, box);
              current->finish(Status::Ok, box.read_only ? "READ-ONLY" : "READ-WRITE",
                              current->current().name + " completed");
            });
      });
}

}  // namespace popbridge::proxy::imap
