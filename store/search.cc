// UserStore::search(): metadata keys narrow the rows in SQL, the whole tree is then evaluated per
// row with three-valued logic so that content is looked at only when a content key can still
// change the answer.
//
// TEXT and BODY are answered from the full-text index (schema version 3, store/search_text.h),
// once per key for the whole mailbox: the trigram index (FTS5, detail=none) gives the documents
// (blobs) holding every trigram of the needle, a superset; each candidate's stored text is then
// checked for the needle in C++, the header column before the body for TEXT, so the answer is
// exact: substring under i;unicode-casemap (RFC 5051, mime::casemapped), as Dovecot matches and
// as HEADER here. The check cannot be skipped: without positions the trigrams may lie apart or
// in the other column, and the index folds case its own way (lowercase, accents kept). The
// word index (schema version 7, search_words) spares most of those checks: a document holding
// a needle of ASCII letters and digits as a whole word matches for certain (wordQuery), so only
// the trigram candidates it does not prove are checked. Only
// trigrams of ASCII characters are asked for, in every spelling that casemaps to them (see
// trigramQuery), so the candidates stay a superset. Needles without such a trigram, or
// not valid UTF-8, are checked against the stored text
// of every document (still no blob is read). When a mailbox's candidate rows have few documents
// (a small mailbox in a large store), those are checked directly. Bodies without a document (not
// indexed yet: indexing is deferred, see UserStore::indexPending; text above the index limit; or
// a blob unreadable when it was indexed) are searched by extracting their text again from the
// blob. Each message row names its body's document (messages.doc, schema version 7, kept by
// triggers), so the scan of the mailbox's rows is the only look at them.
// HEADER and SENT* keys read the message header from the blob.
//
// Case folding is i;unicode-casemap for HEADER, BODY and TEXT: "É" matches "é" and "e" + U+0301,
// "σ" matches "Σ" and "ς". As in Dovecot, a needle ending in a base letter also matches that
// letter with an accent ("cafe" is found in "café": the accent is a combining mark after the E).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <iterator>
#include <optional>
#include <string_view>

#include "protocols/mime/casemap.h"
#include "protocols/mime/decode.h"
#include "protocols/mime/serialize.h"
#include "store/search_text.h"
#include "store/sqlite_db.h"
#include "store/user_store.h"

namespace popbridge::store {
namespace {

using Kind = SearchNode::Kind;
using sql::Database;
using sql::Statement;
using sql::Transaction;

// Header bytes read per message for header keys; a longer header is matched on this prefix.
constexpr std::size_t kMaxHeaderBytes = 256 * 1024;
// Up to this many candidate documents are checked one by one without asking the trigram index
// (a small mailbox searched in a large store); more, and the index selects the candidates.
constexpr std::size_t kMaxDocLookups = 200;
// The trigram index is asked for at most this many distinct trigrams of a needle: each one more
// narrows the candidates less and costs a doclist; the check of each candidate is exact anyway.
constexpr std::size_t kMaxTrigrams = 12;
// Subtrees nested deeper than this stay out of SQL (SQLite bounds expression depth at 1000).
constexpr int kMaxSqlDepth = 24;
// UID sets with more ranges than this are checked in C++ only.
constexpr std::size_t kMaxSqlRanges = 64;
constexpr std::int64_t kSecondsPerDay = 86400;
// The memory map a search reads the database through (see searchHits).
constexpr std::int64_t kSearchMmapBytes = std::int64_t{1} << 34;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// RFC 3501 6.4.4: substring match, i;unicode-casemap. `needle` is already casemapped.
bool containsFolded(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  return mime::casemapped(haystack).find(needle) != std::string::npos;
}

// Checks the tree's shape without recursion: every subtree inside its parent, NOT with one
// child, OR with two, AND with at least one.
bool wellFormed(const SearchQuery& query) {
  const auto& nodes = query.nodes;
  if (nodes.empty() || nodes[0].end != nodes.size()) return false;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const SearchNode& node = nodes[i];
    if (node.end <= i || node.end > nodes.size()) return false;
    const bool has_children =
        node.kind == Kind::And || node.kind == Kind::Or || node.kind == Kind::Not;
    if (!has_children) {
      if (node.end != i + 1) return false;
      continue;
    }
    std::size_t children = 0;
    std::size_t child = i + 1;
    while (child < node.end) {
      const std::size_t next = nodes[child].end;
      if (next <= child || next > node.end) return false;
      child = next;
      ++children;
    }
    if ((node.kind == Kind::Not && children != 1) || (node.kind == Kind::Or && children != 2) ||
        children == 0) {
      return false;
    }
  }
  return true;
}

// ---- SQL narrowing

struct SqlPart {
  std::string text;
  int depth = 0;
};

// RFC 8474 7 objectid syntax: 1*255(ALPHA / DIGIT / "_" / "-").
bool isObjectId(std::string_view id) {
  return !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// The SQL form of one leaf, or nullopt when it cannot be expressed.
std::optional<std::string> leafSql(const SearchNode& node) {
  // Local time of INTERNALDATE: RFC 3501 compares its date "disregarding time and timezone",
  // i.e. the day in the zone it was given in.
  const std::string local = "(internaldate + tz_offset * 60)";
  const std::int64_t start = node.day * kSecondsPerDay;
  switch (node.kind) {
    case Kind::All:
      return "1";
    case Kind::None:
      return "0";
    case Kind::FlagsSet:
      return "(flags & " + std::to_string(node.flags) + ") = " + std::to_string(node.flags);
    case Kind::FlagsClear:
      return "(flags & " + std::to_string(node.flags) + ") = 0";
    case Kind::Keyword:
    case Kind::NoKeyword: {
      // Keywords are a space-separated column; surrounding spaces make the match whole-word.
      // The value goes in as an SQL string literal with quotes doubled (the only escape SQL
      // string literals have); a NUL, which SQL text cannot carry, keeps it out of SQL.
      if (node.value.find('\0') != std::string::npos) return std::nullopt;
      std::string literal = "' ";
      for (const char c : lowered(node.value)) {
        literal += c;
        if (c == '\'') literal += '\'';
      }
      literal += " '";
      const std::string found = "instr(' ' || lower(keywords) || ' ', " + literal + ") > 0";
      return node.kind == Kind::Keyword ? found : "NOT (" + found + ")";
    }
    case Kind::Larger:
      return "size > " + std::to_string(static_cast<std::int64_t>(node.size));
    case Kind::Smaller:
      return "size < " + std::to_string(static_cast<std::int64_t>(node.size));
    case Kind::Before:
      return local + " < " + std::to_string(start);
    case Kind::On:
      return "(" + local + " >= " + std::to_string(start) + " AND " + local + " < " +
             std::to_string(start + kSecondsPerDay) + ")";
    case Kind::Since:
      return local + " >= " + std::to_string(start);
    case Kind::ModseqAtLeast:
      return "modseq >= " + std::to_string(static_cast<std::int64_t>(node.modseq));
    case Kind::ArrivedBefore:
      return "internaldate < " + std::to_string(node.seconds);
    case Kind::ArrivedSince:
      return "internaldate >= " + std::to_string(node.seconds);
    // RFC 8474 6. The parser admits only [A-Za-z0-9_-] in an objectid; anything else stays out
    // of SQL and is decided by the evaluator alone.
    case Kind::EmailId:
      if (node.value.size() < 2 || node.value[0] != 'E' || !isObjectId(node.value)) return "0";
      return "blob = '" + node.value.substr(1) + "'";
    case Kind::ThreadId:
      if (!isObjectId(node.value)) return "0";
      return "blob IN (SELECT blob FROM threads WHERE thread = '" + node.value + "')";
    case Kind::Uids: {
      if (node.uids.empty()) return "0";
      if (node.uids.size() > kMaxSqlRanges) return std::nullopt;
      std::string out = "(";
      for (const UidRange& range : node.uids) {
        if (out.size() > 1) out += " OR ";
        out += "uid BETWEEN " + std::to_string(range.first) + " AND " + std::to_string(range.last);
      }
      return out + ")";
    }
    default:
      return std::nullopt;
  }
}

// A WHERE condition equivalent to, or weaker than, the whole query: the root's children that
// SQL can express (all of the root when it can). Built bottom-up over the flat tree.
std::string narrowingSql(const SearchQuery& query) {
  const auto& nodes = query.nodes;
  std::vector<std::optional<SqlPart>> parts(nodes.size());
  for (std::size_t i = nodes.size(); i-- > 0;) {
    const SearchNode& node = nodes[i];
    if (node.kind != Kind::And && node.kind != Kind::Or && node.kind != Kind::Not) {
      auto text = leafSql(node);
      if (text) parts[i] = SqlPart{std::move(*text), 0};
      continue;
    }
    if (i == 0) break;  // the root is handled below, child by child
    std::string text;
    int depth = 0;
    bool ok = true;
    const char* joiner = node.kind == Kind::Or ? " OR " : " AND ";
    for (std::size_t child = i + 1; child < node.end && ok; child = nodes[child].end) {
      if (!parts[child] || parts[child]->depth >= kMaxSqlDepth) {
        ok = false;
        break;
      }
      if (!text.empty()) text += joiner;
      text += "(" + parts[child]->text + ")";
      depth = std::max(depth, parts[child]->depth + 1);
    }
    if (!ok) continue;
    if (node.kind == Kind::Not) text = "NOT " + text;
    parts[i] = SqlPart{"(" + text + ")", depth};
    // Children's text is now part of the parent's; free it to keep memory linear.
    for (std::size_t child = i + 1; child < node.end; child = nodes[child].end) {
      parts[child].reset();
    }
  }
  if (nodes[0].kind != Kind::And) return parts[0] ? parts[0]->text : std::string();
  std::string out;
  for (std::size_t child = 1; child < nodes.size(); child = nodes[child].end) {
    if (!parts[child] || parts[child]->depth >= kMaxSqlDepth) continue;
    if (!out.empty()) out += " AND ";
    out += "(" + parts[child]->text + ")";
  }
  return out;
}

// ---- per-message evaluation

// Which text columns of a document a Body (body) or Text (header or body) needle looks at.
enum class TextColumns : std::uint8_t { Body, HeaderAndBody };

struct Row {
  std::uint32_t uid = 0;
  std::uint32_t flags = 0;
  std::string keywords;  // space-separated; empty unless the query has keyword keys
  std::uint64_t size = 0;
  std::uint64_t header_size = 0;
  std::int64_t internaldate = 0;
  std::int64_t tz_offset = 0;
  std::string blob;                      // set for the rows whose content is looked at
  std::int64_t doc = 0;                  // search_text rowid, 0 when the body has no document
  std::optional<std::string> structure;  // serialised MIME structure, only when doc is 0
  std::uint64_t modseq = 0;
  std::string thread;  // THREADID, only when the query has ThreadId keys
};

// Three-valued: a content key is Unknown until the message's content is loaded.
enum class Truth : std::uint8_t { False, True, Unknown };

Truth truth(bool b) { return b ? Truth::True : Truth::False; }

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool hasKeyword(std::string_view keywords, std::string_view wanted) {
  while (!keywords.empty()) {
    const std::size_t space = keywords.find(' ');
    if (equalsIgnoreCase(keywords.substr(0, space), wanted)) return true;
    if (space == std::string_view::npos) break;
    keywords.remove_prefix(space + 1);
  }
  return false;
}

bool inRanges(const std::vector<UidRange>& ranges, std::uint32_t uid) {
  const auto it = std::upper_bound(ranges.begin(), ranges.end(), uid,
                                   [](std::uint32_t u, const UidRange& r) { return u < r.first; });
  return it != ranges.begin() && std::prev(it)->last >= uid;
}

Truth compareDay(Kind kind, std::int64_t have, std::int64_t want) {
  switch (kind) {
    case Kind::Before:
    case Kind::SentBefore:
      return truth(have < want);
    case Kind::On:
    case Kind::SentOn:
      return truth(have == want);
    default:
      return truth(have >= want);
  }
}

// What was read of one message for content keys.
struct Content {
  struct Field {
    std::string name;
    std::string value;  // unfolded, encoded-words decoded
  };
  std::vector<Field> fields;
  std::optional<std::int64_t> sent_day;  // from the Date header
  // Per Body/Text node, in the order of Evaluator::bodyNeedles(): whether the body / the header
  // search text contains the needle.
  std::vector<bool> body_found;
  std::vector<bool> header_found;
};

// ---- Date header (RFC 5322 3.3, with the obsolete forms of 4.3)

std::optional<std::int64_t> daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The day of a Date header as written ("Tue, 1 Jul 2003 10:52:37 +0200" -> 2003-07-01); the time
// and zone are disregarded as RFC 3501 6.4.4 asks for SENTBEFORE/SENTON/SENTSINCE.
std::optional<std::int64_t> sentDay(std::string_view value) {
  std::size_t pos = 0;
  const auto skipSpace = [&] {
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
  };
  skipSpace();
  if (const std::size_t comma = value.find(','); comma != std::string_view::npos && comma < 12) {
    pos = comma + 1;
    skipSpace();
  }
  unsigned day = 0;
  std::size_t digits = 0;
  while (pos < value.size() && std::isdigit(static_cast<unsigned char>(value[pos])) != 0 &&
         digits < 2) {
    day = day * 10 + static_cast<unsigned>(value[pos++] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  skipSpace();
  if (pos < value.size() && value[pos] == '-') ++pos;  // "1-Jul-2003" seen in the wild
  if (pos + 3 > value.size()) return std::nullopt;
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  unsigned month = 0;
  const std::string name = lowered(value.substr(pos, 3));
  for (unsigned m = 0; m < 12; ++m) {
    if (kMonths[m] == name) month = m + 1;
  }
  if (month == 0) return std::nullopt;
  pos += 3;
  while (pos < value.size() && std::isalpha(static_cast<unsigned char>(value[pos])) != 0) ++pos;
  skipSpace();
  if (pos < value.size() && value[pos] == '-') ++pos;
  std::int64_t year = 0;
  digits = 0;
  while (pos < value.size() && std::isdigit(static_cast<unsigned char>(value[pos])) != 0 &&
         digits < 4) {
    year = year * 10 + (value[pos++] - '0');
    ++digits;
  }
  if (digits < 2) return std::nullopt;
  if (digits == 2) year += year < 50 ? 2000 : 1900;  // RFC 5322 4.3
  if (digits == 3) year += 1900;
  return daysFromCivil(year, month, day);
}

// Splits a raw header into unfolded fields (RFC 5322 2.2.3).
void parseHeader(std::string_view raw, Content& content) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the empty line ending the header
    if ((line[0] == ' ' || line[0] == '\t') && !content.fields.empty()) {
      content.fields.back().value += line;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    content.fields.push_back(
        Content::Field{std::string(name), std::string(line.substr(colon + 1))});
  }
  for (Content::Field& field : content.fields) {
    const std::size_t first = field.value.find_first_not_of(" \t");
    field.value.erase(0, first == std::string::npos ? field.value.size() : first);
    field.value = mime::decodeEncodedWords(field.value);
    if (!content.sent_day && equalsIgnoreCase(field.name, "date")) {
      content.sent_day = sentDay(field.value);
    }
  }
}

class Evaluator {
 public:
  explicit Evaluator(const SearchQuery& query) : nodes_(query.nodes), values_(query.nodes.size()) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const SearchNode& node = nodes_[i];
      if (node.kind == Kind::Body || node.kind == Kind::Text) {
        body_needles_.push_back(mime::casemapped(node.value));
        text_needle_.push_back(node.kind == Kind::Text);
        max_needle_ = std::max(max_needle_, body_needles_.back().size());
      }
      if (node.kind == Kind::Header || node.kind == Kind::SentBefore || node.kind == Kind::SentOn ||
          node.kind == Kind::SentSince) {
        needs_header_ = true;
      }
      if (node.kind == Kind::Header) header_needles_.push_back(mime::casemapped(node.value));
      if (node.kind == Kind::Keyword || node.kind == Kind::NoKeyword) needs_keywords_ = true;
      if (node.kind == Kind::EmailId) needs_blob_ = true;
      if (node.kind == Kind::ThreadId) needs_thread_ = true;
    }
  }

  // The answer for one message; `content` is null before the message was read.
  Truth evaluate(const Row& row, const Content* content) {
    std::size_t header_needle = header_needles_.size();
    std::size_t body_needle = body_needles_.size();
    for (std::size_t i = nodes_.size(); i-- > 0;) {
      const SearchNode& node = nodes_[i];
      if (node.kind == Kind::Header) --header_needle;
      if (node.kind == Kind::Body || node.kind == Kind::Text) --body_needle;
      values_[i] = leaf(node, row, content, header_needle, body_needle);
    }
    return values_[0];
  }

  bool needsHeader() const { return needs_header_; }
  bool needsKeywords() const { return needs_keywords_; }
  // EMAILID keys compare with the row's blob, THREADID keys with its thread (RFC 8474 6).
  bool needsBlob() const { return needs_blob_; }
  bool needsThread() const { return needs_thread_; }
  // The casemapped needles of the Body and Text nodes in tree order, and which of them are Text.
  const std::vector<std::string>& bodyNeedles() const { return body_needles_; }
  bool isTextNeedle(std::size_t index) const { return text_needle_[index]; }
  std::size_t maxNeedle() const { return max_needle_; }

 private:
  Truth combine(const SearchNode& node, std::size_t index) const {
    bool any_true = false;
    bool any_false = false;
    bool any_unknown = false;
    for (std::size_t child = index + 1; child < node.end; child = nodes_[child].end) {
      switch (values_[child]) {
        case Truth::True:
          any_true = true;
          break;
        case Truth::False:
          any_false = true;
          break;
        case Truth::Unknown:
          any_unknown = true;
          break;
      }
    }
    if (node.kind == Kind::Not) {
      return any_unknown ? Truth::Unknown : truth(!any_true);
    }
    if (node.kind == Kind::Or) {
      return any_true ? Truth::True : (any_unknown ? Truth::Unknown : Truth::False);
    }
    return any_false ? Truth::False : (any_unknown ? Truth::Unknown : Truth::True);
  }

  Truth leaf(const SearchNode& node, const Row& row, const Content* content,
             std::size_t header_needle, std::size_t body_needle) const {
    const std::size_t index = static_cast<std::size_t>(&node - nodes_.data());
    switch (node.kind) {
      case Kind::And:
      case Kind::Or:
      case Kind::Not:
        return combine(node, index);
      case Kind::All:
        return Truth::True;
      case Kind::None:
        return Truth::False;
      case Kind::FlagsSet:
        return truth((row.flags & node.flags) == node.flags);
      case Kind::FlagsClear:
        return truth((row.flags & node.flags) == 0);
      case Kind::Keyword:
        return truth(hasKeyword(row.keywords, node.value));
      case Kind::NoKeyword:
        return truth(!hasKeyword(row.keywords, node.value));
      case Kind::Larger:
        return truth(row.size > node.size);
      case Kind::Smaller:
        return truth(row.size < node.size);
      case Kind::Before:
      case Kind::On:
      case Kind::Since:
        return compareDay(
            node.kind, floorDiv(row.internaldate + row.tz_offset * 60, kSecondsPerDay), node.day);
      case Kind::Uids:
        return truth(inRanges(node.uids, row.uid));
      case Kind::ModseqAtLeast:
        return truth(row.modseq >= node.modseq);
      case Kind::ArrivedBefore:
        return truth(row.internaldate < node.seconds);
      case Kind::ArrivedSince:
        return truth(row.internaldate >= node.seconds);
      case Kind::EmailId:
        return truth(node.value.size() == row.blob.size() + 1 && node.value[0] == 'E' &&
                     node.value.compare(1, std::string::npos, row.blob) == 0);
      case Kind::ThreadId:
        return truth(node.value == row.thread);
      case Kind::SentBefore:
      case Kind::SentOn:
      case Kind::SentSince:
        if (content == nullptr) return Truth::Unknown;
        if (!content->sent_day) return Truth::False;
        return compareDay(node.kind, *content->sent_day, node.day);
      case Kind::Header: {
        if (content == nullptr) return Truth::Unknown;
        const std::string& needle = header_needles_[header_needle];
        for (const Content::Field& field : content->fields) {
          if (equalsIgnoreCase(field.name, node.field) && containsFolded(field.value, needle)) {
            return Truth::True;
          }
        }
        return Truth::False;
      }
      case Kind::Body:
        if (content == nullptr) return Truth::Unknown;
        return truth(content->body_found[body_needle]);
      case Kind::Text:
        if (content == nullptr) return Truth::Unknown;
        return truth(content->body_found[body_needle] || content->header_found[body_needle]);
    }
    return Truth::False;
  }

  const std::vector<SearchNode>& nodes_;
  std::vector<Truth> values_;
  std::vector<std::string> body_needles_;
  std::vector<bool> text_needle_;
  std::vector<std::string> header_needles_;
  std::size_t max_needle_ = 0;
  bool needs_header_ = false;
  bool needs_keywords_ = false;
  bool needs_blob_ = false;
  bool needs_thread_ = false;
};

Result<void> readAt(int fd, std::uint64_t offset, std::size_t wanted, std::string& out) {
  out.resize(wanted);
  std::size_t done = 0;
  while (done < wanted) {
    const ssize_t got =
        ::pread(fd, out.data() + done, wanted - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return fail(Error{ErrorCode::Io, "cannot read blob"});
    done += static_cast<std::size_t>(got);
  }
  return {};
}

// Substring search over text that arrives in pieces: a window keeps the last (longest needle - 1)
// bytes of what came before, so a match across pieces is found and memory stays bounded.
class StreamMatcher {
 public:
  StreamMatcher(const std::vector<std::string>& needles, std::size_t max_needle,
                std::vector<bool>& found)
      : needles_(needles), keep_(max_needle > 0 ? max_needle - 1 : 0), found_(found) {
    found_.assign(needles_.size(), false);
    for (std::size_t i = 0; i < needles_.size(); ++i) {
      if (needles_[i].empty()) found_[i] = true;
    }
  }

  // A piece may end inside a UTF-8 sequence: its start waits for the next piece (or finish()).
  void feed(std::string_view piece) {
    pending_ += piece;
    const std::size_t complete = mime::completeUtf8Prefix(pending_);
    mime::appendCasemapped(std::string_view(pending_).substr(0, complete), window_);
    pending_.erase(0, complete);
    check();
  }

  void finish() {
    mime::appendCasemapped(pending_, window_);
    pending_.clear();
    check();
  }

 private:
  const std::vector<std::string>& needles_;
  std::size_t keep_;
  void check() {
    for (std::size_t i = 0; i < needles_.size(); ++i) {
      if (!found_[i] && window_.find(needles_[i]) != std::string::npos) found_[i] = true;
    }
    if (window_.size() > keep_) window_.erase(0, window_.size() - keep_);
  }

  std::vector<bool>& found_;
  std::string window_;   // casemapped
  std::string pending_;  // the start of a UTF-8 sequence the next piece completes
};

// Reads what content keys need from the blob. False when the blob cannot be read (expunged
// meanwhile, or damaged): such a message does not match. Body and Text needles come from the
// index's answers when the body has a document (`docs`, per needle: the ascending documents
// that match it, header included for a Text needle; unused for an empty needle), else from the
// body's text extracted again.
bool loadContent(const std::filesystem::path& path, const Row& row, const Evaluator& evaluator,
                 const std::vector<std::vector<std::int64_t>>& docs, Content& content) {
  content.fields.clear();
  content.sent_day.reset();
  const auto& needles = evaluator.bodyNeedles();
  const bool scan = !needles.empty() && row.doc == 0;
  UniqueFd fd;
  if (evaluator.needsHeader() || scan) {
    fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
  }
  if (evaluator.needsHeader()) {
    const auto wanted =
        static_cast<std::size_t>(std::min<std::uint64_t>(row.header_size, kMaxHeaderBytes));
    std::string raw;
    if (!readAt(fd.get(), 0, wanted, raw)) return false;
    parseHeader(raw, content);
  }
  if (needles.empty()) return true;
  if (!scan) {
    content.body_found.assign(needles.size(), false);
    content.header_found.assign(needles.size(), false);
    for (std::size_t i = 0; i < needles.size(); ++i) {
      content.body_found[i] =
          needles[i].empty() || std::binary_search(docs[i].begin(), docs[i].end(), row.doc);
    }
    return true;
  }
  std::optional<mime::Message> structure;
  if (row.structure) {
    if (auto parsed = mime::deserialize(*row.structure)) structure = std::move(*parsed);
  }
  if (!structure) {
    auto parsed = parseStructure(fd.get(), row.size);
    if (!parsed) return false;
    structure = std::move(*parsed);
  }
  StreamMatcher body(needles, evaluator.maxNeedle(), content.body_found);
  StreamMatcher header(needles, evaluator.maxNeedle(), content.header_found);
  auto extracted =
      extractSearchText(fd.get(), *structure, [&](TextColumn column, std::string_view piece) {
        (column == TextColumn::Body ? body : header).feed(piece);
      });
  body.finish();
  header.finish();
  return extracted.has_value();
}

bool validUtf8(std::string_view text) {
  std::string sanitized;
  mime::Utf8Sanitizer sanitizer;
  sanitizer.feed(text, sanitized);
  sanitizer.finish(sanitized);
  return sanitized == text;
}

// Substring search of a casemapped needle (RFC 3501 6.4.4, i;unicode-casemap) in valid UTF-8,
// the haystack casemapped a chunk at a time into a buffer that std::string_view::find (memchr,
// memcmp) searches: a needle found early stops the work early. An ASCII chunk, the usual one, is
// only uppercased, in a loop the compiler turns into vector code.
class FoldedFinder {
 public:
  explicit FoldedFinder(std::string_view needle) : needle_(needle) {}

  bool foundIn(std::string_view haystack) {
    return search(haystack.size(), [&](std::size_t pos, std::size_t take) {
      return std::optional<std::string_view>(haystack.substr(pos, take));
    });
  }

  // The value `reader` is on, read a chunk at a time: a needle found early spares reading the
  // rest. Nullopt when the value cannot be read.
  std::optional<bool> foundIn(sql::ColumnReader& reader) {
    bool failed = false;
    const bool found = search(reader.size(), [&](std::size_t pos, std::size_t take) {
      raw_.resize(take);
      if (!reader.read(pos, std::span<char>(raw_.data(), take))) {
        failed = true;
        return std::optional<std::string_view>();
      }
      return std::optional<std::string_view>(raw_);
    });
    if (failed) return std::nullopt;
    return found;
  }

 private:
  static constexpr std::size_t kFirstChunk = 512;
  static constexpr std::size_t kMaxChunk = 16384;
  // A code point's UTF-8 is at most 3 times as long as its casemapping's (the Kelvin sign, 3
  // bytes, becomes "K"), so a match of n casemapped bytes spans at most 3n bytes of haystack.
  static constexpr std::size_t kMaxExpansion = 3;

  // `piece(pos, take)` gives `take` bytes of the haystack from `pos`, or nullopt to give up.
  // Chunks grow from kFirstChunk to kMaxChunk: a common word is usually found in the first. Each
  // chunk overlaps the one before by the longest match and the 3 continuation bytes it may skip
  // at its start, and leaves out a UTF-8 sequence its end cuts.
  template <class Piece>
  bool search(std::size_t size, const Piece& piece) {
    if (needle_.empty()) return true;
    const std::size_t overlap = needle_.size() * kMaxExpansion + 3;
    std::size_t chunk = kFirstChunk;
    std::size_t pos = 0;
    while (true) {
      const std::size_t take = std::min(size - pos, chunk + overlap);
      const std::optional<std::string_view> got = piece(pos, take);
      if (!got) return false;
      std::string_view bytes = *got;
      const bool last = pos + take >= size;
      if (!last) bytes = bytes.substr(0, mime::completeUtf8Prefix(bytes));
      const std::size_t end = pos + bytes.size();
      if (pos > 0) {
        std::size_t skip = 0;
        while (skip < 3 && skip < bytes.size() &&
               (static_cast<unsigned char>(bytes[skip]) & 0xc0) == 0x80) {
          ++skip;
        }
        bytes.remove_prefix(skip);
      }
      buffer_.resize(bytes.size());
      // Plain pointers and an unsigned range test: the compiler turns this into vector code.
      const char* from = bytes.data();
      char* to = buffer_.data();
      unsigned char high = 0;
      for (std::size_t i = 0; i < bytes.size(); ++i) {
        const auto c = static_cast<unsigned char>(from[i]);
        high |= c;
        to[i] = static_cast<char>(static_cast<unsigned char>(c - 'a') < 26 ? c - ('a' - 'A') : c);
      }
      if ((high & 0x80) != 0) {
        buffer_.clear();
        mime::appendCasemapped(bytes, buffer_);
      }
      if (buffer_.find(needle_) != std::string::npos) return true;
      if (last) return false;
      pos = end - overlap;  // end - pos > overlap: the chunk was longer than the overlap by 509+
      chunk = std::min(chunk * 2, kMaxChunk);
    }
  }

  std::string_view needle_;
  std::string buffer_;
  std::string raw_;
};

// The FTS5 query that selects the documents holding every trigram of `needle` (casemapped, valid
// UTF-8) that may be used, up to kMaxTrigrams distinct ones: a superset of the documents
// containing the needle. A trigram may be used when its three characters are ASCII and the
// needle goes on after it with a character that does not continue a casemapping
// (mime::isCasemapTrailing): casemapped text can then hold it only where the text has those three
// ASCII characters in either case, or a non-ASCII character that casemaps to one of them alone
// (the dotless i to "I": mime::nonAsciiSourcesOf); the query asks for each such spelling (OR).
// The needle's last trigram is never used: "CAFE" is found in "café" casemapped, whose index
// trigrams are "caf" and "afé". Each spelling is an FTS5 string (double quotes doubled), which the
// trigram tokenizer turns into exactly that one token, folded as the index folds. Empty when no
// trigram can be used.
std::string trigramQuery(std::string_view needle) {
  std::vector<std::size_t> starts;  // byte offset of each character
  for (std::size_t i = 0; i < needle.size(); ++i) {
    if ((static_cast<unsigned char>(needle[i]) & 0xc0) != 0x80) starts.push_back(i);
  }
  starts.push_back(needle.size());
  const auto usableAscii = [&](std::size_t k) {
    return starts[k + 1] - starts[k] == 1 && needle[starts[k]] != '\0';
  };
  std::vector<std::string_view> trigrams;
  // Character i + 3 must exist: starts has one entry per character and one for the end.
  for (std::size_t i = 0; i + 4 < starts.size() && trigrams.size() < kMaxTrigrams; ++i) {
    if (!usableAscii(i) || !usableAscii(i + 1) || !usableAscii(i + 2)) continue;
    if (mime::startsWithCasemapTrailing(needle.substr(starts[i + 3]))) continue;
    const std::string_view trigram = needle.substr(starts[i], 3);
    if (std::find(trigrams.begin(), trigrams.end(), trigram) != trigrams.end()) continue;
    trigrams.push_back(trigram);
  }
  std::string query;
  for (const std::string_view trigram : trigrams) {
    // Every spelling: each character as itself or as a non-ASCII source of it.
    std::vector<std::string> spellings = {std::string()};
    for (const char c : trigram) {
      std::vector<std::string> options = mime::nonAsciiSourcesOf(c);
      options.emplace_back(1, c);
      std::vector<std::string> next;
      for (const std::string& prefix : spellings) {
        for (const std::string& option : options) next.push_back(prefix + option);
      }
      spellings = std::move(next);
    }
    if (!query.empty()) query += " AND ";
    query += '(';
    for (std::size_t k = 0; k < spellings.size(); ++k) {
      if (k > 0) query += " OR ";
      query += '"';
      for (const char c : spellings[k]) {
        query += c;
        if (c == '"') query += '"';
      }
      query += '"';
    }
    query += ')';
  }
  return query;
}

// The FTS5 query of the word index (search_words, schema version 7) that selects the documents
// holding `needle` (casemapped) as a whole token, in the body column (Body) or either column
// (HeaderAndBody): each of them certainly contains the needle. Only for needles of ASCII letters
// and digits: casemapping leaves those characters alone (uppercased), so a token of them in the
// text is the needle itself in the casemapped text, and the `ascii` tokenizer makes the needle
// exactly one token. Empty for any other needle.
std::string wordQuery(std::string_view needle, TextColumns columns) {
  if (needle.empty()) return {};
  for (const char c : needle) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return {};
  }
  std::string query = columns == TextColumns::Body ? "body : " : "";
  return query + '"' + std::string(needle) + '"';
}

// Appends the rowids `query` selects from the FTS5 table `table`, ascending.
Result<void> matchRowids(Database& db, std::string_view table, const std::string& query,
                         std::vector<std::int64_t>& out) {
  auto stmt = db.prepare("SELECT rowid FROM " + std::string(table) + " WHERE " +
                         std::string(table) + " MATCH ? ORDER BY rowid");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, query);
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    out.push_back(stmt->int64(0));
  }
  return {};
}

// The documents (search_text rowids, ascending) whose text contains `needle` (already
// casemapped) under i;unicode-casemap: in the body column (Body), or in the header or the body
// (HeaderAndBody, for TEXT).
// Among all documents, or, when `only` is given (ascending), among those.
//
// The word index proves the documents holding the needle as a whole word (wordQuery); they match
// without a look at their text. The trigram index (detail=none: no positions, no columns) gives
// candidates only: a document holding every trigram of the needle, anywhere, in either column.
// Each candidate not proven is then checked: its text is read from the FTS5 content table
// (search_text_content: id, c0 = header, c1 = body; the shadow table FTS5 documents for tables
// with their own content) and searched in C++; a column that is not needed is not read. A needle
// without a trigram trigramQuery may use (fewer than 4 characters, say, or no three plain ASCII
// ones in a row), or not valid UTF-8, has no candidates: every document (or every one of `only`)
// is checked. The check is the C++ one for every needle, so LIKE's wildcards and pattern length
// limits play no part. Documents not in the word index yet (search_words_pending) are simply
// not proven, and checked.
Result<std::vector<std::int64_t>> indexMatches(Database& db, const std::string& needle,
                                               TextColumns columns,
                                               const std::vector<std::int64_t>* only) {
  std::vector<std::int64_t> candidates;
  std::vector<std::int64_t> proven;
  bool all = false;  // every document is a candidate
  if (only != nullptr) {
    candidates = *only;
  } else {
    if (const std::string words = wordQuery(needle, columns); !words.empty()) {
      if (auto found = matchRowids(db, "search_words", words, proven); !found) {
        return fail(found.error());
      }
    }
    const std::string query = validUtf8(needle) ? trigramQuery(needle) : std::string();
    if (query.empty()) {
      all = true;
    } else {
      if (auto found = matchRowids(db, "search_text", query, candidates); !found) {
        return fail(found.error());
      }
    }
  }

  FoldedFinder finder(needle);
  std::vector<std::int64_t> out;
  if (all) {
    // Every document: search_docs holds their ids (search_text's rowids) in a small table.
    auto stmt = db.prepare("SELECT id FROM search_docs ORDER BY id");
    if (!stmt) return fail(stmt.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      candidates.push_back(stmt->int64(0));
    }
  }
  if (!proven.empty()) {
    std::vector<std::int64_t> unproven;
    unproven.reserve(candidates.size() > proven.size() ? candidates.size() - proven.size() : 0);
    std::set_difference(candidates.begin(), candidates.end(), proven.begin(), proven.end(),
                        std::back_inserter(unproven));
    candidates = std::move(unproven);
  }
  // The header first (short, and a TEXT match there spares reading the body), then the body,
  // read in chunks up to the first match.
  auto header = db.prepare("SELECT c0 FROM search_text_content WHERE id = ?");
  if (!header) return fail(header.error());
  sql::ColumnReader body = db.columnReader("search_text_content", "c1");
  for (const std::int64_t doc : candidates) {
    if (columns == TextColumns::HeaderAndBody) {
      header->reset();
      header->bind(1, doc);
      auto row = header->step();
      if (!row) return fail(row.error());
      if (*row && finder.foundIn(header->textView(0))) {
        out.push_back(doc);
        continue;
      }
    }
    if (!body.moveTo(doc)) continue;  // no such document
    const std::optional<bool> found = finder.foundIn(body);
    if (!found) return fail(db.lastError("cannot read indexed text"));
    if (*found) out.push_back(doc);
  }
  if (proven.empty()) return out;
  std::vector<std::int64_t> merged;
  merged.reserve(out.size() + proven.size());
  std::merge(out.begin(), out.end(), proven.begin(), proven.end(), std::back_inserter(merged));
  return merged;
}

}  // namespace

Result<std::vector<std::uint32_t>> UserStore::search(std::int64_t mailbox_id,
                                                     const SearchQuery& query) {
  auto hits = searchHits(mailbox_id, query);
  if (!hits) return fail(hits.error());
  std::vector<std::uint32_t> out;
  out.reserve(hits->size());
  for (const SearchHit& hit : *hits) out.push_back(hit.uid);
  return out;
}

Result<std::vector<SearchHit>> UserStore::searchHits(std::int64_t mailbox_id,
                                                     const SearchQuery& query) {
  if (!wellFormed(query)) {
    return fail(Error{ErrorCode::Internal, "malformed search query"});
  }
  const std::string narrowing = narrowingSql(query);
  Evaluator evaluator(query);
  const auto& needles = evaluator.bodyNeedles();

  // A reader connection from the pool (as reader() hands out), returned when done.
  std::unique_ptr<Database> db;
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!db) {
    auto opened = Database::open(dir_ / "meta.sqlite", sql::OpenMode::ReadWrite);
    if (!opened) return fail(opened.error());
    db = std::move(*opened);
  }
  // A search walks the messages, search_docs and the index's doclists, far more pages than the
  // connection's page cache keeps (and a write elsewhere empties it): read them through a memory
  // map of the database file instead of one pread() each (SQLite caps the size, 2 GiB here).
  if (auto mapped = db->exec("PRAGMA mmap_size = " + std::to_string(kSearchMmapBytes)); !mapped) {
    releaseReader(std::move(db));
    return fail(mapped.error());
  }
  // Rows still Unknown after the metadata keys, and per Body/Text needle the documents whose
  // body / header text contains it. All from one read snapshot.
  std::vector<SearchHit> out;
  std::vector<Row> pending;
  std::vector<std::vector<std::int64_t>> docs_found(needles.size());
  auto collected = [&]() -> Result<void> {
    auto txn = Transaction::begin(*db, Transaction::Kind::Read);
    if (!txn) return fail(txn.error());
    {
      auto exists = db->prepare("SELECT 1 FROM mailboxes WHERE id = ?");
      if (!exists) return fail(exists.error());
      exists->bind(1, mailbox_id);
      auto row = exists->step();
      if (!row) return fail(row.error());
      if (!*row) {
        return fail(Error{ErrorCode::NotFound, "no mailbox with id " + std::to_string(mailbox_id)});
      }
    }
    // Keywords are copied only for keyword keys; the row's document comes with it (NULL: none).
    std::string text = "SELECT uid, flags, ";
    text += evaluator.needsKeywords() ? "keywords" : "''";
    text += ", size, header_size, internaldate, tz_offset, blob, modseq, ";
    // A body without a threads row (none should be left after schema version 6) is its own
    // thread, as UserStore::objectIds() reports it.
    text += evaluator.needsThread()
                ? "coalesce((SELECT thread FROM threads t WHERE t.blob = messages.blob), "
                  "'T' || blob)"
                : "''";
    text += ", coalesce(doc, 0) FROM messages WHERE mailbox_id = ?";
    if (!narrowing.empty()) text += " AND (" + narrowing + ")";
    text += " ORDER BY uid";
    auto stmt = db->prepare(text);
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id);
    Row candidate;
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      candidate.uid = static_cast<std::uint32_t>(stmt->int64(0));
      candidate.flags = static_cast<std::uint32_t>(stmt->int64(1));
      candidate.keywords = stmt->textView(2);
      candidate.size = static_cast<std::uint64_t>(stmt->int64(3));
      candidate.header_size = static_cast<std::uint64_t>(stmt->int64(4));
      candidate.internaldate = stmt->int64(5);
      candidate.tz_offset = stmt->int64(6);
      candidate.modseq = static_cast<std::uint64_t>(stmt->int64(8));
      if (evaluator.needsBlob()) candidate.blob = stmt->textView(7);
      candidate.thread = stmt->textView(9);
      candidate.doc = stmt->int64(10);
      const Truth answer = evaluator.evaluate(candidate, nullptr);
      if (answer == Truth::True) out.push_back(SearchHit{candidate.uid, candidate.modseq});
      if (answer != Truth::Unknown) continue;
      candidate.blob = stmt->textView(7);
      pending.push_back(candidate);
    }
    stmt = Statement();
    std::vector<std::int64_t> docs;  // of the pending rows
    if (!needles.empty() && !pending.empty()) {
      auto structure = db->prepare("SELECT structure FROM mime WHERE blob = ?");
      if (!structure) return fail(structure.error());
      for (Row& row : pending) {
        if (row.doc != 0) {
          docs.push_back(row.doc);
          continue;
        }
        // Searched from its blob: its MIME structure, where stored, spares parsing it.
        structure->reset();
        structure->bind(1, row.blob);
        auto found = structure->step();
        if (!found) return fail(found.error());
        if (*found) row.structure = structure->blob(0);
      }
    }
    if (!docs.empty()) {
      std::sort(docs.begin(), docs.end());
      docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
      const std::vector<std::int64_t>* only = docs.size() <= kMaxDocLookups ? &docs : nullptr;
      for (std::size_t i = 0; i < needles.size(); ++i) {
        if (needles[i].empty()) continue;
        auto found = indexMatches(
            *db, needles[i],
            evaluator.isTextNeedle(i) ? TextColumns::HeaderAndBody : TextColumns::Body, only);
        if (!found) return fail(found.error());
        docs_found[i] = std::move(*found);
      }
    }
    return txn->commit();
  }();
  releaseReader(std::move(db));
  if (!collected) return fail(collected.error());

  Content content;  // reused: its vectors keep their capacity from row to row
  for (const Row& row : pending) {
    const bool reads_blob = evaluator.needsHeader() || (!needles.empty() && row.doc == 0);
    if (!loadContent(reads_blob ? blobPath(row.blob) : std::filesystem::path(), row, evaluator,
                     docs_found, content)) {
      continue;
    }
    if (evaluator.evaluate(row, &content) == Truth::True) {
      out.push_back(SearchHit{row.uid, row.modseq});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SearchHit& a, const SearchHit& b) { return a.uid < b.uid; });
  return out;
}

}  // namespace popbridge::store
