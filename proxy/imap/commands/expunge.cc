#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/sequence.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

// With CONDSTORE on, EXPUNGE tells the mailbox's new HIGHESTMODSEQ (RFC 7162 3.2.7 examples,
// as Dovecot does): the write's own modseq. Writes of a user run one at a time and publish
// before they complete, so every earlier change is already queued for this session and goes
// out before the tagged response.
std::string highestModseqCode(const Session& session, const store::ChangeSet& changes) {
  if (!session.condstoreEnabled()) return {};
  return "HIGHESTMODSEQ " + std::to_string(changes.highestmodseq);
}

}  // namespace

// RFC 3501 6.4.3. The store's change set comes back through the hub, so this session reports
// its own expunges exactly like everyone else's: as EXPUNGE (or, with QRESYNC on, VANISHED)
// responses before the tagged OK.
void handleExpunge(Session& session, popbridge::imap::Command& command) {
  SelectedMailbox& box = *session.selected();
  if (box.read_only) {
    session.finish(Status::No, "READ-ONLY", "The mailbox is open read-only (EXAMINE)");
    return;
  }
  // UID EXPUNGE (RFC 4315 2.1): only the named messages, and only those marked \Deleted.
  std::optional<std::vector<std::uint32_t>> only;
  if (const auto& set = std::get<popbridge::imap::ExpungeArgs>(command.args).uids) {
    auto indices = resolveSet(box, *set, SetKind::Uids);
    if (!indices) {
      session.finish(Status::Bad, "", indices.error());
      return;
    }
    only.emplace();
    for (const std::size_t i : *indices) only->push_back(box.messages[i].uid);
    if (only->empty()) {
      session.finish(Status::Ok, "", "EXPUNGE completed");
      return;
    }
  }
  ImapServer* server = &session.server();
  session.user()->write(
      [mailbox_id = box.id, only = std::move(only)](store::UserStore& store) {
        return store.expunge(mailbox_id, only);
      },
      [server, id = session.id()](store::Result<store::ChangeSet> changes) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!changes) {
          s->finishWithStoreError(changes.error());
          return;
        }
        s->finish(Status::Ok, highestModseqCode(*s, *changes), "EXPUNGE completed");
      });
}

// RFC 3501 6.4.2: expunge silently and leave the mailbox (EXAMINE: just leave).
void handleClose(Session& session, popbridge::imap::Command& /*command*/) {
  SelectedMailbox& box = *session.selected();
  if (box.read_only) {
    session.unselect();
    session.finish(Status::Ok, "", "CLOSE completed");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->write(
      [mailbox_id = box.id](store::UserStore& store) {
        return store.expunge(mailbox_id, std::nullopt);
      },
      [server, id = session.id()](store::Result<store::ChangeSet> changes) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        s->unselect();
        if (!changes) {
          s->finishWithStoreError(changes.error());
          return;
        }
        // No HIGHESTMODSEQ here: CLOSE announces nothing, so changes other sessions made
        // would sit below it untold.
        s->finish(Status::Ok, "", "CLOSE completed");
      });
}

}  // namespace popbridge::proxy::imap
