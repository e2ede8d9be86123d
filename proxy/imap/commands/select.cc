#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/imap/special_use.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

struct Snapshot {
  store::MailboxInfo info;
  std::vector<store::MessageInfo> messages;
  std::vector<std::uint32_t> vanished;  // QRESYNC: expunged since the client's modseq
  bool has_children = false;            // IMAP4rev2 only: for the LIST response
};

// What a SELECT (QRESYNC (...)) asks about once its UIDVALIDITY matched (RFC 7162 3.2.5).
struct Resync {
  std::uint64_t modseq;
  std::optional<popbridge::imap::SequenceSet> known_uids;

  bool known(std::uint32_t uid) const {
    return !known_uids || known_uids->contains(uid, popbridge::imap::kStar);
  }
};

// RFC 7162 3.2.5.1: after the usual responses, VANISHED (EARLIER) for what the client may hold
// that is gone, then the flags of what changed since its modseq. `gone_meanwhile` are snapshot
// messages that changes applied during the SELECT removed: they too are gone, and nobody else
// will tell this client. A uid still in the view is never reported; one expunged after the
// snapshot whose change has not arrived yet is told later as VANISHED.
void sendResync(Session& session, const SelectedMailbox& box, const Resync& resync,
                std::vector<std::uint32_t> vanished, const std::vector<std::uint32_t>& gone) {
  vanished.insert(vanished.end(), gone.begin(), gone.end());
  std::sort(vanished.begin(), vanished.end());
  vanished.erase(std::unique(vanished.begin(), vanished.end()), vanished.end());
  std::erase_if(vanished, [&](std::uint32_t uid) {
    return !resync.known(uid) || box.indexOf(uid).has_value();
  });
  std::string out;
  popbridge::imap::appendVanished(out, vanished, popbridge::imap::Vanished::Earlier);
  for (std::size_t i = 0; i < box.messages.size(); ++i) {
    const store::MessageInfo& message = box.messages[i];
    if (message.modseq <= resync.modseq || !resync.known(message.uid)) continue;
    out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(message.uid) + " FLAGS ";
    appendStoreFlags(out, message.flags);
    out += " MODSEQ (" + std::to_string(message.modseq) + "))\r\n";
  }
  session.send(std::move(out));
}

void sendSelectResponses(Session& session, SelectedMailbox& box, const Snapshot& snapshot) {
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
  // RFC 3501 6.3.1: FLAGS, EXISTS, RECENT, then the OK codes. RFC 9051 6.3.2 (IMAP4rev2): no
  // RECENT and no UNSEEN code, but a LIST response for the mailbox with its attributes.
  const bool rev2 = session.rev2Enabled();
  std::string out = "* FLAGS (" + flags + ")\r\n";
  out += "* " + std::to_string(box.messages.size()) + " EXISTS\r\n";
  if (rev2) {
    out += snapshot.has_children ? "* LIST (\\HasChildren" : "* LIST (\\HasNoChildren";
    appendSpecialUse(out, snapshot.info.special_use);
    out += ") \"/\" ";
    session.appendMailbox(out, box.name);
    out += "\r\n";
  } else {
    out += "* 0 RECENT\r\n";
  }
  if (box.read_only) {
    out += "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n";
  } else {
    out += "* OK [PERMANENTFLAGS (" + flags + " \\*)] Flags permitted\r\n";
  }
  if (first_unseen != 0 && !rev2) {
    out += "* OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen\r\n";
  }
  out += "* OK [UIDVALIDITY " + std::to_string(box.uidvalidity) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(box.uidnext) + "] Predicted next UID\r\n";
  out += "* OK [MAILBOXID (" + box.object_id + ")] Ok\r\n";  // RFC 8474 4.1
  // RFC 7162 3.1.2.1 (once CONDSTORE is on, as Dovecot does): how far the modseqs go.
  if (session.condstoreEnabled()) {
    out += "* OK [HIGHESTMODSEQ " + std::to_string(box.highestmodseq) + "] Highest\r\n";
  }
  session.send(std::move(out));
}

}  // namespace

// RFC 3501 6.3.1 SELECT and 6.3.2 EXAMINE, with the CONDSTORE and QRESYNC parameters
// (RFC 7162 3.1.8, 3.2.5). The session subscribes to the mailbox's changes before it reads the
// snapshot, so nothing committed in between is missed (applyPending skips what the snapshot
// already holds).
void handleSelect(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::SelectArgs>(command.args);
  // RFC 7162 3.2.5: QRESYNC without ENABLE QRESYNC first is a protocol error.
  if (args.qresync && !session.qresyncEnabled()) {
    session.finish(Status::Bad, "", "QRESYNC must be enabled first (ENABLE QRESYNC)");
    return;
  }
  std::string name = args.mailbox;
  const bool read_only = command.name == "EXAMINE";
  // RFC 7162 3.2.11: the client learns where the old mailbox's responses end (sent whether or
  // not QRESYNC is on, as Dovecot does: it costs a client that ignores it nothing).
  if (session.selected() != nullptr) {
    session.send("* OK [CLOSED] Previous mailbox closed\r\n");
  }
  // A SELECT that fails leaves no mailbox selected (RFC 3501 6.3.1).
  session.unselect();
  if (args.condstore) session.enableCondstore();
  std::optional<popbridge::imap::QresyncParams> qresync = args.qresync;
  ImapServer* server = &session.server();
  const std::uint64_t id = session.id();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [name](store::UserStore& store) { return store.mailbox(name); },
      [server, id, read_only, qresync,
       rev2 = session.rev2Enabled()](store::Result<store::MailboxInfo> info) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!info) {
          s->finishWithStoreError(info.error());
          return;
        }
        // A changed UIDVALIDITY makes the client's cache worthless: an ordinary SELECT.
        std::optional<Resync> resync;
        if (qresync && qresync->uidvalidity == info->uidvalidity) {
          resync = Resync{qresync->modseq, qresync->known_uids};
        }
        s->beginSelect(info->id, info->name, read_only);
        s->user()->read<store::Result<Snapshot>>(
            [mailbox_id = info->id, mailbox = info->name, rev2,
             since = resync ? std::optional<std::uint64_t>(resync->modseq)
                            : std::nullopt](store::UserStore& store) -> store::Result<Snapshot> {
              auto fresh = store.mailbox(mailbox);
              if (!fresh) return fail(fresh.error());
              auto messages = store.listMessages(mailbox_id);
              if (!messages) return fail(messages.error());
              Snapshot snapshot{*fresh, std::move(*messages), {}};
              // Read after the messages: an expunge in between is in both, and the view check
              // in sendResync() sorts it out.
              if (since) {
                auto vanished = store.expungedSince(mailbox_id, *since);
                if (!vanished) return fail(vanished.error());
                snapshot.vanished = std::move(*vanished);
              }
              if (rev2) {
                auto all = store.listMailboxes();
                if (!all) return fail(all.error());
                const std::string prefix = mailbox + "/";
                snapshot.has_children =
                    std::any_of(all->begin(), all->end(), [&](const store::MailboxInfo& other) {
                      return other.name.starts_with(prefix);
                    });
              }
              return snapshot;
            },
            [server, id, resync](store::Result<Snapshot> snapshot) {
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
              box.object_id = snapshot->info.object_id;
              box.uidnext = snapshot->info.uidnext;
              // Read before the messages, so never beyond what the view holds.
              box.highestmodseq = snapshot->info.highestmodseq;
              box.loaded = true;
              std::vector<std::uint32_t> before;
              if (resync) {
                for (const store::MessageInfo& m : box.messages) before.push_back(m.uid);
              }
              current->applyPending(Session::Announce::No, Session::ExpungeRule::Allow);
              std::vector<std::uint32_t> gone;
              for (const std::uint32_t uid : before) {
                if (!box.indexOf(uid)) gone.push_back(uid);
              }
              current->noteActivity();
              sendSelectResponses(*current, box, *snapshot);
              if (resync) sendResync(*current, box, *resync, std::move(snapshot->vanished), gone);
              current->finish(Status::Ok, box.read_only ? "READ-ONLY" : "READ-WRITE",
                              current->current().name + " completed");
            });
      });
}

}  // namespace popbridge::proxy::imap
