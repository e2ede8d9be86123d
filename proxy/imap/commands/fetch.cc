#include <algorithm>
#include <set>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/fetch_job.h"
#include "proxy/imap/sequence.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

using popbridge::imap::FetchAtt;

FetchAtt simple(FetchAtt::Kind kind) {
  FetchAtt att;
  att.kind = kind;
  return att;
}

bool has(const std::vector<FetchAtt>& atts, FetchAtt::Kind kind) {
  return std::any_of(atts.begin(), atts.end(), [&](const FetchAtt& a) { return a.kind == kind; });
}

void startJob(Session& session, const std::vector<std::uint32_t>& uids,
              std::vector<FetchAtt> atts) {
  SelectedMailbox& box = *session.selected();
  std::vector<FetchJob::Target> targets;
  targets.reserve(uids.size());
  for (const std::uint32_t uid : uids) {
    const auto index = box.indexOf(uid);
    if (!index) continue;
    targets.push_back(
        FetchJob::Target{static_cast<std::uint32_t>(*index + 1), box.messages[*index]});
  }
  session.runFetch(std::make_shared<FetchJob>(session.user()->store(), box.id, std::move(targets),
                                              std::move(atts)));
}

}  // namespace

// RFC 3501 6.4.5 and 6.4.8 (UID FETCH). Bodies stream from the store in worker rounds.
void handleFetch(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::FetchArgs>(command.args);
  SelectedMailbox& box = *session.selected();
  if (args.changed_since) {
    session.finish(Status::Bad, "", "CHANGEDSINCE needs CONDSTORE, which is not enabled");
    return;
  }
  if (auto why = FetchJob::unsupported(args.atts)) {
    session.finish(Status::No, "CANNOT", *why);
    return;
  }
  auto indices = resolveSet(box, args.set, command.uid ? SetKind::Uids : SetKind::SequenceNumbers);
  if (!indices) {
    session.finish(Status::Bad, "", indices.error());
    return;
  }
  std::vector<FetchAtt> atts;
  // RFC 3501 6.4.8: UID FETCH answers carry the UID even when not asked for.
  if (command.uid && !has(args.atts, FetchAtt::Kind::Uid))
    atts.push_back(simple(FetchAtt::Kind::Uid));
  const bool sets_seen = FetchJob::setsSeen(args.atts) && !box.read_only;
  // RFC 3501 6.4.5: a \Seen set by this FETCH is reported in its responses.
  if (sets_seen && !has(args.atts, FetchAtt::Kind::Flags)) {
    atts.push_back(simple(FetchAtt::Kind::Flags));
  }
  atts.insert(atts.end(), args.atts.begin(), args.atts.end());

  std::vector<std::uint32_t> uids;
  std::vector<std::uint32_t> unseen;
  for (const std::size_t i : *indices) {
    uids.push_back(box.messages[i].uid);
    if ((box.messages[i].flags.system & store::kSeen) == 0) unseen.push_back(box.messages[i].uid);
  }
  if (!sets_seen || unseen.empty()) {
    startJob(session, uids, std::move(atts));
    return;
  }
  ImapServer* server = &session.server();
  store::Flags seen;
  seen.system = store::kSeen;
  session.user()->write(
      [mailbox_id = box.id, unseen, seen](store::UserStore& store) {
        return store.storeFlags(mailbox_id, unseen, store::FlagOp::Add, seen);
      },
      [server, id = session.id(), uids,
       atts = std::move(atts)](store::Result<store::ChangeSet> changes) mutable {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!changes) {
          s->finishWithStoreError(changes.error());
          return;
        }
        // The new flags reach this client inside its FETCH responses, not as extra FETCHes.
        const std::set<std::uint32_t> quiet(uids.begin(), uids.end());
        s->applyPending(Session::Announce::Yes,
                        s->current().uid ? Session::ExpungeRule::Allow : Session::ExpungeRule::Hold,
                        quiet);
        startJob(*s, uids, std::move(atts));
      });
}

}  // namespace popbridge::proxy::imap
