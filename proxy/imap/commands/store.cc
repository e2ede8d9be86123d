#include <set>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/sequence.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

store::FlagOp flagOp(popbridge::imap::StoreArgs::Mode mode) {
  switch (mode) {
    case popbridge::imap::StoreArgs::Mode::Add:
      return store::FlagOp::Add;
    case popbridge::imap::StoreArgs::Mode::Remove:
      return store::FlagOp::Remove;
    case popbridge::imap::StoreArgs::Mode::Replace:
      return store::FlagOp::Replace;
  }
  return store::FlagOp::Replace;
}

}  // namespace

// RFC 3501 6.4.6 and 6.4.8 (UID STORE). Every message in the set is answered with its flags,
// changed or not, unless .SILENT.
void handleStore(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::StoreArgs>(command.args);
  SelectedMailbox& box = *session.selected();
  if (args.unchanged_since) {
    session.finish(Status::Bad, "", "UNCHANGEDSINCE needs CONDSTORE, which is not enabled");
    return;
  }
  if (box.read_only) {
    session.finish(Status::No, "READ-ONLY", "The mailbox is open read-only (EXAMINE)");
    return;
  }
  auto flags = parseFlags(args.flags);
  if (!flags) {
    session.finish(Status::Bad, "", flags.error());
    return;
  }
  auto indices = resolveSet(box, args.set, command.uid ? SetKind::Uids : SetKind::SequenceNumbers);
  if (!indices) {
    session.finish(Status::Bad, "", indices.error());
    return;
  }
  std::vector<std::uint32_t> uids;
  uids.reserve(indices->size());
  for (const std::size_t i : *indices) uids.push_back(box.messages[i].uid);
  if (uids.empty()) {
    session.finish(Status::Ok, "", "STORE completed");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->write(
      [mailbox_id = box.id, uids, op = flagOp(args.mode), flags = *flags](store::UserStore& store) {
        return store.storeFlags(mailbox_id, uids, op, flags);
      },
      [server, id = session.id(), uids,
       silent = args.silent](store::Result<store::ChangeSet> changes) {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!changes) {
          s->finishWithStoreError(changes.error());
          return;
        }
        const bool by_uid = s->current().uid;
        const std::set<std::uint32_t> own(uids.begin(), uids.end());
        s->applyPending(Session::Announce::Yes,
                        by_uid ? Session::ExpungeRule::Allow : Session::ExpungeRule::Hold, own);
        if (!silent) {
          const SelectedMailbox& view = *s->selected();
          std::string out;
          for (const std::uint32_t uid : uids) {
            const auto index = view.indexOf(uid);
            if (!index) continue;
            out += "* " + std::to_string(*index + 1) + " FETCH (";
            if (by_uid) out += "UID " + std::to_string(uid) + " ";
            out += "FLAGS ";
            appendStoreFlags(out, view.messages[*index].flags);
            out += ")\r\n";
          }
          s->send(std::move(out));
        }
        s->finish(Status::Ok, "", "STORE completed");
      });
}

}  // namespace popbridge::proxy::imap
