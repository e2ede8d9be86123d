#include "protocols/imap/commands/search.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"
#include "store/search.h"

namespace popbridge::proxy::imap {
namespace {

using popbridge::imap::SearchKey;
using popbridge::imap::SequenceSet;
using Node = store::SearchNode;

// Sorts and merges ranges so the store can binary-search them.
std::vector<store::UidRange> normalized(std::vector<store::UidRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const store::UidRange& a, const store::UidRange& b) { return a.first < b.first; });
  std::vector<store::UidRange> out;
  for (const store::UidRange& range : ranges) {
    if (!out.empty() && range.first <= out.back().last + 1ull) {
      out.back().last = std::max(out.back().last, range.last);
    } else {
      out.push_back(range);
    }
  }
  return out;
}

// UID set -> UID ranges. '*' is the highest UID this client knows, so "n:*" always includes it
// (RFC 3501 6.4.8) and never reaches messages not yet announced to this session.
std::vector<store::UidRange> uidRanges(const SelectedMailbox& box, const SequenceSet& set) {
  const std::uint32_t largest = box.maxUid();
  std::vector<store::UidRange> ranges;
  for (const popbridge::imap::SeqRange& range : set.ranges) {
    const std::uint32_t a = range.first == popbridge::imap::kStar ? largest : range.first;
    const std::uint32_t b = range.last == popbridge::imap::kStar ? largest : range.last;
    ranges.push_back({std::min(a, b), std::max(a, b)});
  }
  return normalized(std::move(ranges));
}

// Sequence numbers are this session's own (STYLE.md 6.2), so they become UIDs here. A run of
// sequence numbers a..b is exactly the UIDs of messages a and b and those between: every message
// the store holds with a UID in between is in this client's view (later appends get larger
// UIDs). Numbers beyond the mailbox match nothing, as in other servers, rather than failing the
// whole SEARCH.
std::vector<store::UidRange> sequenceRanges(const SelectedMailbox& box, const SequenceSet& set) {
  const auto count = static_cast<std::uint32_t>(box.messages.size());
  std::vector<store::UidRange> ranges;
  if (count == 0) return ranges;
  for (const popbridge::imap::SeqRange& range : set.ranges) {
    const std::uint32_t a = range.first == popbridge::imap::kStar ? count : range.first;
    const std::uint32_t b = range.last == popbridge::imap::kStar ? count : range.last;
    const std::uint32_t low = std::min(a, b);
    const std::uint32_t high = std::min(std::max(a, b), count);
    if (low > count) continue;
    ranges.push_back({box.messages[low - 1].uid, box.messages[high - 1].uid});
  }
  return normalized(std::move(ranges));
}

// "$" (RFC 5182): the saved result's messages still in this client's view, as UID ranges. The
// same whether written as a key (sequence numbers) or after UID: both name those messages.
std::vector<store::UidRange> savedRanges(const SelectedMailbox& box) {
  std::vector<store::UidRange> ranges;
  for (const std::uint32_t uid : box.saved_uids) {
    if (box.indexOf(uid)) ranges.push_back({uid, uid});
  }
  return normalized(std::move(ranges));
}

Node flagNode(Node::Kind kind, std::uint32_t bits) {
  Node node;
  node.kind = kind;
  node.flags = bits;
  return node;
}

Node headerNode(std::string field, std::string value) {
  Node node;
  node.kind = Node::Kind::Header;
  node.field = std::move(field);
  node.value = std::move(value);
  return node;
}

// One IMAP key as a store node (same position and subtree end, so the tree shape carries over
// without walking it). `now` is the time OLDER and YOUNGER count back from. Returns an error
// text for keys popbridge refuses.
Result<Node, std::string> translate(const SelectedMailbox& box, SearchKey& key, std::int64_t now) {
  using K = SearchKey::Kind;
  Node node;
  switch (key.kind) {
    case K::And:
      node.kind = Node::Kind::And;
      break;
    case K::Or:
      node.kind = Node::Kind::Or;
      break;
    case K::Not:
      node.kind = Node::Kind::Not;
      break;
    case K::All:
      node.kind = Node::Kind::All;
      break;
    // popbridge never gives a message \Recent (SELECT reports 0 RECENT), so RECENT and NEW
    // (RECENT UNSEEN) match nothing and OLD (NOT RECENT) everything (RFC 3501 6.4.4).
    case K::Recent:
    case K::New:
      node.kind = Node::Kind::None;
      break;
    case K::Old:
      node.kind = Node::Kind::All;
      break;
    case K::Answered:
      node = flagNode(Node::Kind::FlagsSet, store::kAnswered);
      break;
    case K::Deleted:
      node = flagNode(Node::Kind::FlagsSet, store::kDeleted);
      break;
    case K::Draft:
      node = flagNode(Node::Kind::FlagsSet, store::kDraft);
      break;
    case K::Flagged:
      node = flagNode(Node::Kind::FlagsSet, store::kFlagged);
      break;
    case K::Seen:
      node = flagNode(Node::Kind::FlagsSet, store::kSeen);
      break;
    case K::Unanswered:
      node = flagNode(Node::Kind::FlagsClear, store::kAnswered);
      break;
    case K::Undeleted:
      node = flagNode(Node::Kind::FlagsClear, store::kDeleted);
      break;
    case K::Undraft:
      node = flagNode(Node::Kind::FlagsClear, store::kDraft);
      break;
    case K::Unflagged:
      node = flagNode(Node::Kind::FlagsClear, store::kFlagged);
      break;
    case K::Unseen:
      node = flagNode(Node::Kind::FlagsClear, store::kSeen);
      break;
    case K::Keyword:
    case K::Unkeyword:
      node.kind = key.kind == K::Keyword ? Node::Kind::Keyword : Node::Kind::NoKeyword;
      node.value = std::move(key.value);
      break;
    // RFC 3501 6.4.4 names the envelope fields; they come from these header fields.
    case K::Bcc:
      node = headerNode("Bcc", std::move(key.value));
      break;
    case K::Cc:
      node = headerNode("Cc", std::move(key.value));
      break;
    case K::From:
      node = headerNode("From", std::move(key.value));
      break;
    case K::Subject:
      node = headerNode("Subject", std::move(key.value));
      break;
    case K::To:
      node = headerNode("To", std::move(key.value));
      break;
    case K::Header:
      node = headerNode(std::move(key.field), std::move(key.value));
      break;
    case K::Body:
      node.kind = Node::Kind::Body;
      node.value = std::move(key.value);
      break;
    case K::Text:
      node.kind = Node::Kind::Text;
      node.value = std::move(key.value);
      break;
    case K::Before:
      node.kind = Node::Kind::Before;
      node.day = key.day;
      break;
    case K::On:
      node.kind = Node::Kind::On;
      node.day = key.day;
      break;
    case K::Since:
      node.kind = Node::Kind::Since;
      node.day = key.day;
      break;
    case K::SentBefore:
      node.kind = Node::Kind::SentBefore;
      node.day = key.day;
      break;
    case K::SentOn:
      node.kind = Node::Kind::SentOn;
      node.day = key.day;
      break;
    case K::SentSince:
      node.kind = Node::Kind::SentSince;
      node.day = key.day;
      break;
    case K::Larger:
      node.kind = Node::Kind::Larger;
      node.size = key.number;
      break;
    case K::Smaller:
      node.kind = Node::Kind::Smaller;
      node.size = key.number;
      break;
    case K::Uid:
      node.kind = Node::Kind::Uids;
      node.uids = key.set.saved ? savedRanges(box) : uidRanges(box, key.set);
      break;
    case K::Sequence:
      node.kind = Node::Kind::Uids;
      node.uids = key.set.saved ? savedRanges(box) : sequenceRanges(box, key.set);
      break;
    // RFC 5032 3: OLDER n matches INTERNALDATE at least n seconds before now, YOUNGER n at most
    // n seconds before now; both compare instants, unlike the date keys.
    case K::Older:
      node.kind = Node::Kind::ArrivedBefore;
      node.seconds = now - static_cast<std::int64_t>(key.number) + 1;
      break;
    case K::Younger:
      node.kind = Node::Kind::ArrivedSince;
      node.seconds = now - static_cast<std::int64_t>(key.number);
      break;
    case K::Modseq:
      node.kind = Node::Kind::ModseqAtLeast;
      node.modseq = key.number;
      break;
    case K::EmailId:
      node.kind = Node::Kind::EmailId;
      node.value = std::move(key.value);
      break;
    case K::ThreadId:
      node.kind = Node::Kind::ThreadId;
      node.value = std::move(key.value);
      break;
  }
  node.end = key.end;
  return node;
}

}  // namespace

void answerEsearch(Session& s, const popbridge::imap::SearchReturn& r, const SearchMatches& matches,
                   bool with_modseq) {
  const std::size_t size = matches.numbers.size();
  std::vector<std::size_t> picked;
  if ((r.min || r.max) && !r.all && !r.count) {
    if (size > 0 && r.min) picked.push_back(0);
    if (size > 0 && r.max && (size > 1 || !r.min)) picked.push_back(size - 1);
  } else {
    for (std::size_t i = 0; i < size; ++i) picked.push_back(i);
  }
  if (r.save) {
    std::vector<std::uint32_t>& saved = s.selected()->saved_uids;
    saved.clear();
    for (const std::size_t i : picked) saved.push_back(matches.uids[i]);
    std::sort(saved.begin(), saved.end());  // a SORT's matches come in sort order
  }
  if (!r.min && !r.max && !r.all && !r.count) return;
  popbridge::imap::EsearchResponse response;
  response.tag = s.current().tag;
  response.uid = s.current().uid;
  if (size > 0) {
    if (r.min) response.min = matches.numbers.front();
    if (r.max) response.max = matches.numbers.back();
    if (with_modseq) {
      std::uint64_t highest = 0;
      for (const std::size_t i : picked) highest = std::max(highest, matches.modseqs[i]);
      response.modseq = highest;
    }
  }
  if (r.all) response.all = matches.numbers;
  if (r.count) response.count = static_cast<std::uint32_t>(size);
  std::string out;
  popbridge::imap::appendEsearchResponse(out, response);
  s.send(std::move(out));
}

namespace {

// Answers NO. RFC 5182 2.1: a SEARCH RETURN (SAVE) answered NO leaves "$" empty (one answered
// BAD must not change it, so BADs go straight to finish()).
void refuseSearch(Session& s, bool saving, std::string_view code, std::string_view text) {
  if (saving) s.selected()->saved_uids.clear();
  s.finish(Status::No, code, text);
}

}  // namespace

namespace {

std::int64_t secondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<store::SearchQuery, std::string> storeSearchQuery(const SelectedMailbox& box,
                                                         popbridge::imap::SearchArgs& args) {
  store::SearchQuery query;
  query.nodes.reserve(args.keys.size());
  const std::int64_t now = secondsNow();
  for (SearchKey& key : args.keys) {
    auto node = translate(box, key, now);
    if (!node) return fail(std::move(node.error()));
    query.nodes.push_back(std::move(*node));
  }
  return query;
}

// RFC 3501 6.4.4 and 6.4.8 (UID SEARCH), with RFC 4731 RETURN options answered by ESEARCH and
// RFC 5182 SAVE. The store evaluates the query on a worker; the answer lists only messages this
// client knows, by its own sequence numbers (or UIDs), ascending. The command table marks
// SEARCH as using sequence numbers, so no EXPUNGE is sent while a sequence-number SEARCH runs
// (RFC 3501 7.4.1); "$" is therefore read and written against the same view.
void handleSearch(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::SearchArgs>(command.args);
  const bool saving = args.returns && args.returns->save;
  if (args.charset && !popbridge::imap::searchCharsetSupported(*args.charset)) {
    refuseSearch(session, saving,
                 std::string("BADCHARSET (") + popbridge::imap::kSearchCharsets + ")",
                 "Unsupported charset");
    return;
  }
  SelectedMailbox& box = *session.selected();
  store::SearchQuery query;
  query.nodes.reserve(args.keys.size());
  // RFC 7162 3.1.5: MODSEQ makes this a CONDSTORE enabling command and adds (MODSEQ n).
  const bool with_modseq =
      std::any_of(args.keys.begin(), args.keys.end(),
                  [](const SearchKey& key) { return key.kind == SearchKey::Kind::Modseq; });
  if (with_modseq) session.enableCondstore();
  const std::int64_t now = secondsNow();
  for (SearchKey& key : args.keys) {
    auto node = translate(box, key, now);
    if (!node) {
      session.finish(Status::Bad, "", node.error());  // BAD leaves "$" as it was
      return;
    }
    query.nodes.push_back(std::move(*node));
  }
  // "$" in the keys has been read; from here a failure (NO, from the store) leaves it empty.
  if (saving) box.saved_uids.clear();
  // RFC 9051 6.4.4: an IMAP4rev2 SEARCH without RETURN is answered as RETURN (ALL), by ESEARCH.
  std::optional<popbridge::imap::SearchReturn> returns = args.returns;
  if (!returns && session.rev2Enabled()) returns = popbridge::imap::SearchReturn{.all = true};
  ImapServer* server = &session.server();
  session.user()->read<store::Result<std::vector<store::SearchHit>>>(
      [mailbox_id = box.id, query = std::move(query)](store::UserStore& store) {
        return store.searchHits(mailbox_id, query);
      },
      [server, id = session.id(), with_modseq,
       returns](store::Result<std::vector<store::SearchHit>> found) {
        Session* s = server->find(id);
        if (s == nullptr || s->selected() == nullptr) return;
        if (!found) {
          s->finishWithStoreError(found.error());
          return;
        }
        // The view cannot have changed since the query was built: changes wait in `pending`
        // until this command finishes. UIDs ascend with sequence numbers, so the store's
        // ascending UIDs give ascending numbers either way.
        const SelectedMailbox& view = *s->selected();
        const bool by_uid = s->current().uid;
        SearchMatches matches;
        matches.numbers.reserve(found->size());
        for (const store::SearchHit& hit : *found) {
          const auto index = view.indexOf(hit.uid);
          if (!index) continue;  // appended after this client's view: not announced yet
          matches.numbers.push_back(by_uid ? hit.uid : static_cast<std::uint32_t>(*index + 1));
          matches.uids.push_back(hit.uid);
          matches.modseqs.push_back(hit.modseq);
        }
        if (returns) {
          answerEsearch(*s, *returns, matches, with_modseq);
        } else {
          std::string out;
          popbridge::imap::appendSearchResponse(out, matches.numbers,
                                                matches.modseqIf(with_modseq));
          s->send(std::move(out));
        }
        s->finish(Status::Ok, "", "SEARCH completed");
      });
}

}  // namespace popbridge::proxy::imap
