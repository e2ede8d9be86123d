#include <memory>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/sequence.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

// "1:3,7" for a list of uids, for COPYUID (RFC 4315 3: uid-set, in the order of the copies).
std::string uidSet(const std::vector<std::uint32_t>& uids) {
  std::string out;
  popbridge::imap::appendUidSet(out, uids);
  return out;
}

struct Copied {
  store::TransferResult transfer;
  std::uint32_t destination_uidvalidity = 0;
};

// What UserContext publishes for a COPY or MOVE (found by argument-dependent lookup).
std::vector<const store::ChangeSet*> changeSetsOf(const Copied& copied) {
  return proxy::changeSetsOf(copied.transfer);
}

}  // namespace

// RFC 3501 6.4.7 COPY and RFC 6851 MOVE, with UIDPLUS COPYUID (RFC 4315 3). Bodies are shared,
// not copied; a MOVE's expunges reach this session through the hub like anyone else's.
void handleCopy(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::CopyArgs>(command.args);
  SelectedMailbox& box = *session.selected();
  const bool move = command.name == "MOVE";
  if (move && box.read_only) {
    session.finish(Status::No, "READ-ONLY", "The mailbox is open read-only (EXAMINE)");
    return;
  }
  auto indices = resolveSet(box, args.set, command.uid ? SetKind::Uids : SetKind::SequenceNumbers);
  if (!indices) {
    session.finish(Status::Bad, "", indices.error());
    return;
  }
  std::vector<std::uint32_t> uids;
  for (const std::size_t i : *indices) uids.push_back(box.messages[i].uid);
  if (uids.empty()) {
    session.finish(Status::Ok, "", command.name + " completed (nothing matched)");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->writeWith<Copied>(
      [source = box.id, uids, destination = std::move(args.mailbox), move,
       limits = quotaLimitsOf(session)](store::UserStore& store) -> store::Result<Copied> {
        auto target = store.mailbox(destination);
        if (!target) return fail(target.error());
        // RFC 9208 4.3.1: over the quota the copy fails with OVERQUOTA and nothing is copied.
        auto transfer =
            store.transfer(source, uids, target->name,
                           move ? store::TransferMode::Move : store::TransferMode::Copy, limits);
        if (!transfer) return fail(transfer.error());
        return Copied{std::move(*transfer), target->uidvalidity};
      },
      [server, id = session.id(), move](store::Result<Copied> copied) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!copied) {
          if (copied.error().code == store::ErrorCode::NotFound) {
            s->finish(Status::No, "TRYCREATE", "No such mailbox");
          } else {
            s->finishWithStoreError(copied.error());
          }
          return;
        }
        std::vector<std::uint32_t> new_uids;
        for (const store::MessageInfo& m : copied->transfer.destination.appended) {
          new_uids.push_back(m.uid);
        }
        std::string code;
        if (!new_uids.empty()) {
          code = "COPYUID " + std::to_string(copied->destination_uidvalidity) + " " +
                 uidSet(copied->transfer.source_uids) + " " + uidSet(new_uids);
        }
        if (move) {
          // RFC 6851 4.3: COPYUID goes in an untagged OK before the expunges.
          if (!code.empty()) s->send("* OK [" + code + "] Moved\r\n");
          // As after EXPUNGE: every change up to the move's own is announced before the
          // tagged response, so the client may keep this HIGHESTMODSEQ.
          std::string highest;
          if (s->condstoreEnabled()) {
            highest = "HIGHESTMODSEQ " + std::to_string(copied->transfer.source.highestmodseq);
          }
          s->finish(Status::Ok, highest, "MOVE completed");
        } else {
          s->finish(Status::Ok, code, "COPY completed");
        }
      });
}

}  // namespace popbridge::proxy::imap
