#include "protocols/imap/commands/thread.h"

#include <utility>
#include <vector>

#include "protocols/imap/commands/search.h"
#include "protocols/imap/sort_keys.h"
#include "protocols/imap/threading.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"
#include "store/user_store.h"

namespace popbridge::proxy::imap {

// RFC 5256 4 (and UID THREAD). As SORT: search and threading on a worker over the messages this
// client knows, by UID; the answer's numbers become sequence numbers here unless UID THREAD.
void handleThread(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::ThreadArgs>(command.args);
  if (!popbridge::imap::searchCharsetSupported(args.charset)) {
    session.finish(Status::No, std::string("BADCHARSET (") + popbridge::imap::kSearchCharsets + ")",
                   "Unsupported charset");
    return;
  }
  const SelectedMailbox& box = *session.selected();
  auto query = storeSearchQuery(box, args.search);
  if (!query) {
    session.finish(Status::Bad, "", query.error());
    return;
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<popbridge::imap::ThreadTree>>(
      [mailbox_id = box.id, max_uid = box.maxUid(), query = std::move(*query),
       algorithm =
           args.algorithm](store::UserStore& store) -> store::Result<popbridge::imap::ThreadTree> {
        auto hits = store.searchHits(mailbox_id, query);
        if (!hits) return fail(hits.error());
        std::vector<std::uint32_t> uids;
        for (const store::SearchHit& hit : *hits) {
          if (hit.uid <= max_uid) uids.push_back(hit.uid);
        }
        auto headers = store.messageHeaders(mailbox_id, uids);
        if (!headers) return fail(headers.error());
        std::vector<popbridge::imap::SortKeys> keys;
        keys.reserve(headers->size());
        for (const store::MessageHeader& header : *headers) {
          keys.push_back(popbridge::imap::sortKeys(header.header, header.uid, header.internaldate,
                                                   header.size));
        }
        if (algorithm == popbridge::imap::ThreadAlgorithm::OrderedSubject) {
          return popbridge::imap::threadOrderedSubject(std::move(keys));
        }
        return popbridge::imap::threadReferences(keys);
      },
      [server, id = session.id()](store::Result<popbridge::imap::ThreadTree> tree) {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!tree) {
          s->finishWithStoreError(tree.error());
          return;
        }
        // Every UID in the tree is in the view (see handleSort); sequence numbers follow UIDs.
        if (!s->current().uid) {
          const SelectedMailbox& view = *s->selected();
          for (popbridge::imap::ThreadTree::Node& node : tree->nodes) {
            if (node.number == 0) continue;
            const auto index = view.indexOf(node.number);
            node.number = index ? static_cast<std::uint32_t>(*index + 1) : 0;
          }
        }
        std::string out;
        popbridge::imap::appendThreadResponse(out, *tree);
        s->send(std::move(out));
        s->finish(Status::Ok, "", "THREAD completed");
      });
}

}  // namespace popbridge::proxy::imap
