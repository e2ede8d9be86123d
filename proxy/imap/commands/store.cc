#include <algorithm>
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

// What UserContext publishes for a STORE (found by argument-dependent lookup).
struct Stored {
  store::ConditionalStore result;
};
std::vector<const store::ChangeSet*> changeSetsOf(const Stored& stored) {
  return proxy::changeSetsOf(stored.result.changes);
}

}  // namespace

// RFC 3501 6.4.6 and 6.4.8 (UID STORE), with UNCHANGEDSINCE (RFC 7162 3.1.3). Every message
// in the set is answered with its flags, changed or not, unless .SILENT. Once CONDSTORE is on
// the answers carry UID and MODSEQ, and a message this STORE changed is answered even when
// .SILENT, with its new MODSEQ.
void handleStore(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::StoreArgs>(command.args);
  SelectedMailbox& box = *session.selected();
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
  if (args.unchanged_since) session.enableCondstore();  // RFC 7162 3.1
  std::vector<std::uint32_t> uids;
  uids.reserve(indices->size());
  for (const std::size_t i : *indices) uids.push_back(box.messages[i].uid);
  if (uids.empty()) {
    session.finish(Status::Ok, "", "STORE completed");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->writeWith<Stored>(
      [mailbox_id = box.id, uids, op = flagOp(args.mode), flags = *flags,
       unchanged_since = args.unchanged_since](store::UserStore& store) -> store::Result<Stored> {
        if (unchanged_since) {
          auto done = store.storeFlagsIf(mailbox_id, uids, op, flags, *unchanged_since);
          if (!done) return fail(done.error());
          return Stored{std::move(*done)};
        }
        auto changes = store.storeFlags(mailbox_id, uids, op, flags);
        if (!changes) return fail(changes.error());
        return Stored{store::ConditionalStore{std::move(*changes), {}}};
      },
      [server, id = session.id(), uids, silent = args.silent](store::Result<Stored> stored) {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!stored) {
          s->finishWithStoreError(stored.error());
          return;
        }
        const bool by_uid = s->current().uid;
        const bool condstore = s->condstoreEnabled();
        const std::set<std::uint32_t> modified(stored->result.modified.begin(),
                                               stored->result.modified.end());
        // The STORE's own answers carry the new flags; a message that failed UNCHANGEDSINCE
        // gets none, so what others changed on it is told as usual.
        std::set<std::uint32_t> own;
        for (const std::uint32_t uid : uids) {
          if (!modified.contains(uid)) own.insert(uid);
        }
        s->applyPending(Session::Announce::Yes,
                        by_uid ? Session::ExpungeRule::Allow : Session::ExpungeRule::Hold, own);
        std::set<std::uint32_t> changed;
        for (const store::MessageInfo& m : stored->result.changes.flag_changes) {
          changed.insert(m.uid);
        }
        const SelectedMailbox& view = *s->selected();
        std::string out;
        std::vector<std::uint32_t> modified_numbers;
        for (const std::uint32_t uid : uids) {
          const auto index = view.indexOf(uid);
          if (!index) continue;
          const auto seq = static_cast<std::uint32_t>(*index + 1);
          if (modified.contains(uid)) {
            modified_numbers.push_back(by_uid ? uid : seq);
            continue;
          }
          const bool answer_flags = !silent;
          const bool answer_modseq = condstore && (!silent || changed.contains(uid));
          if (!answer_flags && !answer_modseq) continue;
          const store::MessageInfo& message = view.messages[*index];
          // Items in Dovecot's order: UID MODSEQ FLAGS.
          std::vector<std::string> items;
          if (by_uid || condstore) items.push_back("UID " + std::to_string(uid));
          if (answer_modseq) items.push_back("MODSEQ (" + std::to_string(message.modseq) + ")");
          if (answer_flags) {
            std::string flags_item = "FLAGS ";
            appendStoreFlags(flags_item, message.flags);
            items.push_back(std::move(flags_item));
          }
          out += "* " + std::to_string(seq) + " FETCH (";
          for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out += ' ';
            out += items[i];
          }
          out += ")\r\n";
        }
        s->send(std::move(out));
        if (!modified_numbers.empty()) {
          // RFC 7162 3.1.3: the messages that failed the UNCHANGEDSINCE test.
          std::sort(modified_numbers.begin(), modified_numbers.end());
          std::string code = "MODIFIED ";
          popbridge::imap::appendUidSet(code, modified_numbers);
          s->finish(Status::Ok, code, "Conditional STORE failed");
          return;
        }
        s->finish(Status::Ok, "", "STORE completed");
      });
}

}  // namespace popbridge::proxy::imap
