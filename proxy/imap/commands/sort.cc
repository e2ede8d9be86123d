#include "protocols/imap/commands/sort.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "protocols/imap/sort_keys.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"
#include "store/user_store.h"

namespace popbridge::proxy::imap {
namespace {

using popbridge::imap::SearchKey;

struct Sorted {
  std::vector<std::uint32_t> uids;     // in response order
  std::vector<std::uint64_t> modseqs;  // of each of `uids`
};

}  // namespace

// RFC 5256 3 (and UID SORT), with RFC 5957 DISPLAYFROM/DISPLAYTO and RFC 5267 ESORT (RETURN
// options answered by ESEARCH, SAVE as for SEARCH). The search and the sort run on a worker:
// the store evaluates the keys, then reads each match's header block for the sort keys. Only
// messages this client knows take part (those appended after its view have larger UIDs than any
// it knows). Like SEARCH, the table marks SORT as using sequence numbers, so no EXPUNGE is sent
// while it runs.
void handleSort(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::SortArgs>(command.args);
  const bool saving = args.returns && args.returns->save;
  if (!popbridge::imap::searchCharsetSupported(args.charset)) {
    if (saving) session.selected()->saved_uids.clear();  // RFC 5182 2.1: NO empties "$"
    session.finish(Status::No, std::string("BADCHARSET (") + popbridge::imap::kSearchCharsets + ")",
                   "Unsupported charset");
    return;
  }
  SelectedMailbox& box = *session.selected();
  // RFC 7162 3.1.5 (and 3.2 for SORT): MODSEQ adds (MODSEQ n) and enables CONDSTORE.
  const bool with_modseq =
      std::any_of(args.search.keys.begin(), args.search.keys.end(),
                  [](const SearchKey& key) { return key.kind == SearchKey::Kind::Modseq; });
  if (with_modseq) session.enableCondstore();
  auto query = storeSearchQuery(box, args.search);
  if (!query) {
    session.finish(Status::Bad, "", query.error());  // BAD leaves "$" as it was
    return;
  }
  // "$" in the keys has been read; from here a failure (NO, from the store) leaves it empty.
  if (saving) box.saved_uids.clear();
  ImapServer* server = &session.server();
  session.user()->read<store::Result<Sorted>>(
      [mailbox_id = box.id, max_uid = box.maxUid(), query = std::move(*query),
       criteria = args.criteria](store::UserStore& store) -> store::Result<Sorted> {
        auto hits = store.searchHits(mailbox_id, query);
        if (!hits) return fail(hits.error());
        Sorted sorted;
        std::vector<std::uint32_t> uids;
        for (const store::SearchHit& hit : *hits) {
          if (hit.uid > max_uid) continue;
          uids.push_back(hit.uid);
        }
        auto headers = store.messageHeaders(mailbox_id, uids);
        if (!headers) return fail(headers.error());
        std::vector<popbridge::imap::SortKeys> keys;
        keys.reserve(headers->size());
        for (const store::MessageHeader& header : *headers) {
          keys.push_back(popbridge::imap::sortKeys(header.header, header.uid, header.internaldate,
                                                   header.size));
        }
        sorted.uids = popbridge::imap::sortNumbers(std::move(keys), criteria);
        // The hits ascend by UID: each sorted UID's modseq is found by a binary search.
        sorted.modseqs.reserve(sorted.uids.size());
        for (const std::uint32_t uid : sorted.uids) {
          const auto hit = std::lower_bound(
              hits->begin(), hits->end(), uid,
              [](const store::SearchHit& h, std::uint32_t u) { return h.uid < u; });
          sorted.modseqs.push_back(hit != hits->end() && hit->uid == uid ? hit->modseq : 0);
        }
        return sorted;
      },
      [server, id = session.id(), with_modseq,
       returns = args.returns](store::Result<Sorted> sorted) {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!sorted) {
          s->finishWithStoreError(sorted.error());
          return;
        }
        // The view cannot have changed meanwhile: changes wait until this command finishes.
        const SelectedMailbox& view = *s->selected();
        const bool by_uid = s->current().uid;
        SearchMatches matches;
        matches.numbers.reserve(sorted->uids.size());
        for (std::size_t i = 0; i < sorted->uids.size(); ++i) {
          const auto index = view.indexOf(sorted->uids[i]);
          if (!index) continue;
          matches.numbers.push_back(by_uid ? sorted->uids[i]
                                           : static_cast<std::uint32_t>(*index + 1));
          matches.uids.push_back(sorted->uids[i]);
          matches.modseqs.push_back(sorted->modseqs[i]);
        }
        if (returns) {
          answerEsearch(*s, *returns, matches, with_modseq);
        } else {
          std::string out;
          popbridge::imap::appendSortResponse(out, matches.numbers, matches.modseqIf(with_modseq));
          s->send(std::move(out));
        }
        s->finish(Status::Ok, "", "SORT completed");
      });
}

}  // namespace popbridge::proxy::imap
