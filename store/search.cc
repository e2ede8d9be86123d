// UserStore::search(): metadata keys narrow the rows in SQL, the whole tree is then evaluated per
// row with three-valued logic so that content is looked at only when a content key can still
// change the answer.
//
// TEXT and BODY are answered from the full-text index (schema version 3, store/search_text.h):
// one query per key, `column LIKE '%needle%'` on the FTS5 trigram table, gives the documents
// (blobs) that contain the needle (over the whole index, or by rowid for at most
// kMaxDocLookups candidates). The trigram index finds the candidates of any needle of 3 or
// more characters; SQLite then checks LIKE on each candidate's stored text, so the answer is
// exactly LIKE's: substring with ASCII case folding, as RFC 3501 6.4.4 and HEADER here. Needles
// shorter than 3 characters cannot use the index: LIKE then scans the stored text of every
// document (still no blob is read). A needle with LIKE's wildcards ("%", "_"), bytes that are not
// UTF-8, or too long for a LIKE pattern is matched in C++ against the text of the documents the
// wildcard-widened pattern selects. Bodies without a document (not indexed yet: indexing is
// deferred, see UserStore::indexPending; text above the index limit; or a blob unreadable when it
// was indexed) are searched by extracting their text again from the blob.
// HEADER and SENT* keys read the message header from the blob.
//
// Case folding is ASCII only (as SQLite's LIKE without ICU does, and as HEADER here): "É" does
// not match "é", where Dovecot's i;unicode-casemap would. The trigram index itself folds Unicode,
// so its candidates are a superset and a Unicode-folding check could replace LIKE's later.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <optional>
#include <string_view>
#include <unordered_set>

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
// Up to this many candidate documents are checked one by one (rowid lookups); more, and one
// query over the whole index answers for all of them.
constexpr std::size_t kMaxDocLookups = 200;
// Longest needle put into a LIKE pattern (SQLite refuses patterns above 50,000 bytes); a longer
// one selects candidates by its first bytes and is checked in C++.
constexpr std::size_t kMaxLikeNeedle = 10000;
// Subtrees nested deeper than this stay out of SQL (SQLite bounds expression depth at 1000).
constexpr int kMaxSqlDepth = 24;
// UID sets with more ranges than this are checked in C++ only.
constexpr std::size_t kMaxSqlRanges = 64;
constexpr std::int64_t kSecondsPerDay = 86400;

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

// RFC 3501 6.4.4: substring match, ASCII case folding. `needle` is already lowered.
bool containsLowered(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (haystack.size() < needle.size()) return false;
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char h, char n) { return lower(h) == n; });
  return it != haystack.end();
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

struct Row {
  std::uint32_t uid;
  std::uint32_t flags;
  std::string keywords;  // space-separated
  std::uint64_t size;
  std::uint64_t header_size;
  std::int64_t internaldate;
  std::int64_t tz_offset;
  std::string blob;
  std::int64_t doc;                      // search_text rowid, 0 when the body has no document
  std::optional<std::string> structure;  // serialised MIME structure, only when doc is 0
  std::uint64_t modseq;
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
        body_needles_.push_back(lowered(node.value));
        text_needle_.push_back(node.kind == Kind::Text);
        max_needle_ = std::max(max_needle_, node.value.size());
      }
      if (node.kind == Kind::Header || node.kind == Kind::SentBefore || node.kind == Kind::SentOn ||
          node.kind == Kind::SentSince) {
        needs_header_ = true;
      }
      if (node.kind == Kind::Header) header_needles_.push_back(lowered(node.value));
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
  // The lowered needles of the Body and Text nodes in tree order, and which of them are Text.
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
          if (equalsIgnoreCase(field.name, node.field) && containsLowered(field.value, needle)) {
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

  void feed(std::string_view piece) {
    const std::size_t start = window_.size();
    window_ += piece;
    for (std::size_t i = start; i < window_.size(); ++i) window_[i] = lower(window_[i]);
    for (std::size_t i = 0; i < needles_.size(); ++i) {
      if (!found_[i] && window_.find(needles_[i]) != std::string::npos) found_[i] = true;
    }
    if (window_.size() > keep_) window_.erase(0, window_.size() - keep_);
  }

 private:
  const std::vector<std::string>& needles_;
  std::size_t keep_;
  std::vector<bool>& found_;
  std::string window_;
};

// Reads what content keys need from the blob. False when the blob cannot be read (expunged
// meanwhile, or damaged): such a message does not match. Body and Text needles come from the
// index sets (`body_docs` / `header_docs`, per needle; empty optional: the needle is empty) when
// the body has a document, else from the body's text extracted again.
bool loadContent(const std::filesystem::path& path, const Row& row, const Evaluator& evaluator,
                 const std::vector<std::unordered_set<std::int64_t>>& body_docs,
                 const std::vector<std::unordered_set<std::int64_t>>& header_docs,
                 Content& content) {
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
      content.body_found[i] = needles[i].empty() || body_docs[i].count(row.doc) > 0;
      content.header_found[i] = needles[i].empty() || header_docs[i].count(row.doc) > 0;
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
  return extracted.has_value();
}

bool validUtf8(std::string_view text) {
  std::string sanitized;
  mime::Utf8Sanitizer sanitizer;
  sanitizer.feed(text, sanitized);
  sanitizer.finish(sanitized);
  return sanitized == text;
}

std::size_t utf8Length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

// The documents whose `column` contains `needle` (already lowered), ASCII case-insensitively:
// among all documents, or, when `only` is given, among those (one rowid lookup each, cheaper
// than a pass over the whole index when a small mailbox is searched in a large store).
Result<std::unordered_set<std::int64_t>> indexMatches(Database& db, const std::string& needle,
                                                      TextColumn column,
                                                      const std::vector<std::int64_t>* only) {
  const std::string name = column == TextColumn::Body ? "body" : "header";
  enum class Plan : std::uint8_t {
    Indexed,  // LIKE '%needle%' through the trigram index, exact
    Scan,     // LIKE '%needle%' ESCAPE '\' over every document's text, exact
    Checked,  // a wider LIKE pattern, then the needle checked in C++
  };
  Plan plan = Plan::Indexed;
  std::string pattern = "%";
  if (!validUtf8(needle)) {
    plan = Plan::Checked;  // bytewise, on every document
  } else if (utf8Length(needle) < 3) {
    // No trigram to look up. (SQLite 3.40's FTS5 also answers an unescaped LIKE pattern of fewer
    // than 3 characters but 3 or more bytes with nothing; the ESCAPE clause keeps FTS5 out.)
    plan = Plan::Scan;
    for (const char c : needle) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
  } else if (needle.size() > kMaxLikeNeedle || needle.find_first_of("%_") != std::string::npos) {
    // The wildcards widen the pattern (and a long needle is cut at a character boundary); the
    // C++ check narrows it back. The index still selects the candidates.
    plan = Plan::Checked;
    std::size_t cut = std::min(needle.size(), kMaxLikeNeedle);
    while (cut > 0 && cut < needle.size() &&
           (static_cast<unsigned char>(needle[cut]) & 0xc0) == 0x80) {
      --cut;
    }
    pattern += needle.substr(0, cut);
  } else {
    pattern += needle;
  }
  if (pattern.size() > 1) pattern += '%';
  std::string text = "SELECT rowid";
  if (plan == Plan::Checked) text += ", " + name;
  text += " FROM search_text WHERE " + name + " LIKE ?";
  if (plan == Plan::Scan) text += " ESCAPE '\\'";
  if (only != nullptr) text += " AND rowid = ?";
  auto stmt = db.prepare(text);
  if (!stmt) return fail(stmt.error());
  std::unordered_set<std::int64_t> out;
  const std::size_t runs = only != nullptr ? only->size() : 1;
  for (std::size_t i = 0; i < runs; ++i) {
    stmt->reset();
    stmt->bind(1, pattern);
    if (only != nullptr) stmt->bind(2, (*only)[i]);
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      if (plan != Plan::Checked || containsLowered(stmt->text(1), needle)) {
        out.insert(stmt->int64(0));
      }
    }
  }
  return out;
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
  // Rows still Unknown after the metadata keys, and per Body/Text needle the documents whose
  // body / header text contains it. All from one read snapshot.
  std::vector<SearchHit> out;
  std::vector<Row> pending;
  std::vector<std::unordered_set<std::int64_t>> body_docs(needles.size());
  std::vector<std::unordered_set<std::int64_t>> header_docs(needles.size());
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
    std::string text =
        "SELECT m.uid, m.flags, m.keywords, m.size, m.header_size, m.internaldate, m.tz_offset, "
        "m.blob, coalesce(d.id, 0), "
        "CASE WHEN d.id IS NULL THEN (SELECT structure FROM mime WHERE blob = m.blob) END, "
        "m.modseq "
        "FROM messages m LEFT JOIN search_docs d ON d.blob = m.blob WHERE m.mailbox_id = ?";
    if (!narrowing.empty()) text += " AND (" + narrowing + ")";
    text += " ORDER BY m.uid";
    auto stmt = db->prepare(text);
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id);
    std::vector<std::int64_t> docs;  // of the pending rows, while few
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      Row candidate{static_cast<std::uint32_t>(stmt->int64(0)),
                    static_cast<std::uint32_t>(stmt->int64(1)),
                    stmt->text(2),
                    static_cast<std::uint64_t>(stmt->int64(3)),
                    static_cast<std::uint64_t>(stmt->int64(4)),
                    stmt->int64(5),
                    stmt->int64(6),
                    stmt->text(7),
                    stmt->int64(8),
                    std::nullopt,
                    static_cast<std::uint64_t>(stmt->int64(10))};
      if (!stmt->isNull(9)) candidate.structure = stmt->blob(9);
      const Truth answer = evaluator.evaluate(candidate, nullptr);
      if (answer == Truth::True) out.push_back(SearchHit{candidate.uid, candidate.modseq});
      if (answer != Truth::Unknown) continue;
      if (candidate.doc != 0) docs.push_back(candidate.doc);
      pending.push_back(std::move(candidate));
    }
    stmt = Statement();
    if (!docs.empty()) {
      std::sort(docs.begin(), docs.end());
      docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
      const std::vector<std::int64_t>* only = docs.size() <= kMaxDocLookups ? &docs : nullptr;
      for (std::size_t i = 0; i < needles.size(); ++i) {
        if (needles[i].empty()) continue;
        auto body = indexMatches(*db, needles[i], TextColumn::Body, only);
        if (!body) return fail(body.error());
        body_docs[i] = std::move(*body);
        if (!evaluator.isTextNeedle(i)) continue;
        auto header = indexMatches(*db, needles[i], TextColumn::Header, only);
        if (!header) return fail(header.error());
        header_docs[i] = std::move(*header);
      }
    }
    return txn->commit();
  }();
  releaseReader(std::move(db));
  if (!collected) return fail(collected.error());

  for (const Row& row : pending) {
    Content content;
    if (!loadContent(blobPath(row.blob), row, evaluator, body_docs, header_docs, content)) {
      continue;
    }
    if (evaluator.evaluate(row, &content) == Truth::True)
      out.push_back(SearchHit{row.uid, row.modseq});
  }
  std::sort(out.begin(), out.end(),
            [](const SearchHit& a, const SearchHit& b) { return a.uid < b.uid; });
  return out;
}

}  // namespace popbridge::store
