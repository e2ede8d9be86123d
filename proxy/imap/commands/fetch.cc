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

// Sets \Seen where this FETCH implies it (RFC 3501 6.4.5), then answers.
void markSeenAndFetch(Session& session, const std::vector<std::uint32_t>& uids,
                      const std::vector<std::uint32_t>& unseen, bool sets_seen,
                      std::vector<FetchAtt> atts) {
  SelectedMailbox& box = *session.selected();
  ImapServer* server = &session.server();
  if (!sets_seen || unseen.empty()) {
    startJob(session, uids, std::move(atts));
    return;
  }
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

}  // namespace

// RFC 3501 6.4.5 and 6.4.8 (UID FETCH), with MODSEQ, CHANGEDSINCE (RFC 7162 3.1.4) and
// VANISHED (RFC 7162 3.2.6). Bodies stream from the store in worker rounds.
void handleFetch(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::FetchArgs>(command.args);
  SelectedMailbox& box = *session.selected();
  if (args.vanished && !session.qresyncEnabled()) {
    session.finish(Status::Bad, "", "VANISHED needs QRESYNC, which is not enabled");
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
  // RFC 7162 3.1: MODSEQ and CHANGEDSINCE are CONDSTORE enabling commands.
  if (args.changed_since || has(args.atts, FetchAtt::Kind::ModSeq)) session.enableCondstore();
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
  // RFC 7162 3.1.4.1: CHANGEDSINCE answers with MODSEQ; RFC 7162 3.1: so does a flag change
  // this FETCH makes once CONDSTORE is on.
  if ((args.changed_since || (sets_seen && session.condstoreEnabled())) &&
      !has(args.atts, FetchAtt::Kind::ModSeq)) {
    atts.push_back(simple(FetchAtt::Kind::ModSeq));
  }

  std::vector<std::uint32_t> uids;
  std::vector<std::uint32_t> unseen;
  for (const std::size_t i : *indices) {
    // RFC 7162 3.1.4.1: only messages changed since the given modseq.
    if (args.changed_since && box.messages[i].modseq <= *args.changed_since) continue;
    uids.push_back(box.messages[i].uid);
    if ((box.messages[i].flags.system & store::kSeen) == 0) unseen.push_back(box.messages[i].uid);
  }
  ImapServer* server = &session.server();
  if (args.vanished) {
    // RFC 7162 3.2.6: first VANISHED (EARLIER) for the UIDs of the set expunged since the
    // modseq. '*' stands for every UID here, so messages expunged from the end of the mailbox
    // are not missed; a UID still in this client's view is told later, as VANISHED.
    session.user()->read<store::Result<std::vector<std::uint32_t>>>(
        [mailbox_id = box.id, since = *args.changed_since](store::UserStore& store) {
          return store.expungedSince(mailbox_id, since);
        },
        [server, id = session.id(), uids, unseen, sets_seen, set = args.set,
         atts = std::move(atts)](store::Result<std::vector<std::uint32_t>> expunged) mutable {
          Session* s = server->find(id);
          if (s == nullptr || s->selected() == nullptr) return;
          if (!expunged) {
            s->finishWithStoreError(expunged.error());
            return;
          }
          const SelectedMailbox& view = *s->selected();
          std::erase_if(*expunged, [&](std::uint32_t uid) {
            return !set.contains(uid, popbridge::imap::kStar) || view.indexOf(uid).has_value();
          });
          std::string out;
          popbridge::imap::appendVanished(out, *expunged, popbridge::imap::Vanished::Earlier);
          s->send(std::move(out));
          markSeenAndFetch(*s, uids, unseen, sets_seen, std::move(atts));
        });
    return;
  }
  markSeenAndFetch(session, uids, unseen, sets_seen, std::move(atts));
}

}  // namespace popbridge::proxy::imap
