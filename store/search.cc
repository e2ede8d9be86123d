// UserStore::search(): metadata keys narrow the rows in SQL, the whole tree is then evaluated per
// row with three-valued logic so that a message's blob is read only when a header or body key
// can still change the answer.
//
// TODO(search): TEXT and BODY read the blobs here; the full-text index (SQLite FTS5 with the
// trigram tokenizer over decoded text, issue 3) replaces that once the MIME index stores decoded
// parts. Bodies are matched undecoded until then.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <optional>
#include <string_view>

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
// Body bytes read per call while scanning for BODY/TEXT.
constexpr std::size_t kBodyChunk = 64 * 1024;
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
  std::string raw_header;
  std::optional<std::int64_t> sent_day;  // from the Date header
  std::vector<bool> body_found;          // per Body/Text node index in `body_needles`
};

// ---- RFC 2047 encoded-words

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (c == '=') break;
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// RFC 2047 4.2: "_" is a space, "=XX" a byte.
std::optional<std::string> decodeQ(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out += ' ';
    } else if (text[i] == '=') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string latin1ToUtf8(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xc0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3f));
    }
  }
  return out;
}

// Decodes "=?charset?B|Q?text?=" words (RFC 2047 2) whose charset is UTF-8, US-ASCII or
// ISO-8859-1; others stay as written. Whitespace between two encoded words is dropped (6.2).
std::string decodeEncodedWords(std::string_view value) {
  if (value.find("=?") == std::string_view::npos) return std::string(value);
  std::string out;
  std::size_t pos = 0;
  bool last_was_word = false;
  std::string pending_space;
  while (pos < value.size()) {
    const std::size_t start = value.find("=?", pos);
    if (start == std::string_view::npos) break;
    const std::size_t q1 = value.find('?', start + 2);
    const std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
    const std::size_t close = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
    if (close == std::string_view::npos || q2 != q1 + 2) {
      out.append(value.substr(pos, start + 2 - pos));
      pos = start + 2;
      last_was_word = false;
      continue;
    }
    std::string_view between = value.substr(pos, start - pos);
    const bool only_space =
        std::all_of(between.begin(), between.end(), [](char c) { return c == ' ' || c == '\t'; });
    std::string charset = lowered(value.substr(start + 2, q1 - start - 2));
    if (const std::size_t star = charset.find('*'); star != std::string::npos) {
      charset.resize(star);  // RFC 2231 5: language suffix
    }
    const char encoding = lower(value[q1 + 1]);
    const std::string_view text = value.substr(q2 + 1, close - q2 - 1);
    std::optional<std::string> decoded;
    if (encoding == 'b') decoded = decodeBase64(text);
    if (encoding == 'q') decoded = decodeQ(text);
    const bool known = charset == "utf-8" || charset == "us-ascii" || charset == "iso-8859-1";
    if (!decoded || !known) {
      out.append(value.substr(pos, close + 2 - pos));
      pos = close + 2;
      last_was_word = false;
      continue;
    }
    if (!(last_was_word && only_space)) out.append(between);
    out += charset == "iso-8859-1" ? latin1ToUtf8(*decoded) : *decoded;
    pos = close + 2;
    last_was_word = true;
  }
  out.append(value.substr(pos));
  return out;
}

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
    field.value = decodeEncodedWords(field.value);
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
        max_needle_ = std::max(max_needle_, node.value.size());
      }
      if (node.kind == Kind::Header || node.kind == Kind::Text || node.kind == Kind::SentBefore ||
          node.kind == Kind::SentOn || node.kind == Kind::SentSince) {
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
  const std::vector<std::string>& bodyNeedles() const { return body_needles_; }
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
      case Kind::Text: {
        if (content == nullptr) return Truth::Unknown;
        if (content->body_found[body_needle]) return Truth::True;
        const std::string& needle = body_needles_[body_needle];
        if (containsLowered(content->raw_header, needle)) return Truth::True;
        for (const Content::Field& field : content->fields) {
          if (containsLowered(field.value, needle)) return Truth::True;
        }
        return Truth::False;
      }
    }
    return Truth::False;
  }

  const std::vector<SearchNode>& nodes_;
  std::vector<Truth> values_;
  std::vector<std::string> body_needles_;
  std::vector<std::string> header_needles_;
  std::size_t max_needle_ = 0;
  bool needs_header_ = false;
};

// Reads what content keys need from the blob. False when the blob cannot be read (expunged
// meanwhile, or damaged): such a message does not match.
bool loadContent(int fd, const Row& row, const Evaluator& evaluator, Content& content) {
  const auto readAt = [&](std::uint64_t offset, std::size_t wanted, std::string& out) -> bool {
    out.resize(wanted);
    std::size_t done = 0;
    while (done < wanted) {
      const ssize_t got =
          ::pread(fd, out.data() + done, wanted - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      done += static_cast<std::size_t>(got);
    }
    out.resize(done);
    return done == wanted;
  };
  if (evaluator.needsHeader()) {
    const auto wanted =
        static_cast<std::size_t>(std::min<std::uint64_t>(row.header_size, kMaxHeaderBytes));
    if (!readAt(0, wanted, content.raw_header)) return false;
    parseHeader(content.raw_header, content);
  }
  const auto& needles = evaluator.bodyNeedles();
  content.body_found.assign(needles.size(), false);
  if (needles.empty()) return true;
  std::size_t left = 0;
  for (std::size_t i = 0; i < needles.size(); ++i) {
    content.body_found[i] = needles[i].empty();
    if (!content.body_found[i]) ++left;
  }
  // The body streams through a window that keeps the last (longest needle - 1) bytes of the
  // previous chunk, so a match across a chunk boundary is found and memory stays bounded.
  const std::size_t keep = evaluator.maxNeedle() > 0 ? evaluator.maxNeedle() - 1 : 0;
  std::string window;
  std::string chunk;
  std::uint64_t offset = row.header_size;
  while (left > 0 && offset < row.size) {
    const auto wanted =
        static_cast<std::size_t>(std::min<std::uint64_t>(kBodyChunk, row.size - offset));
    if (!readAt(offset, wanted, chunk)) return false;
    offset += wanted;
    for (char& c : chunk) c = lower(c);
    window += chunk;
    for (std::size_t i = 0; i < needles.size(); ++i) {
      if (!content.body_found[i] && window.find(needles[i]) != std::string::npos) {
        content.body_found[i] = true;
        --left;
      }
    }
    if (window.size() > keep) window.erase(0, window.size() - keep);
  }
  return true;
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
  std::vector<Row> rows;
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
        "SELECT uid, flags, keywords, size, header_size, internaldate, tz_offset, blob, modseq "
        "FROM messages WHERE mailbox_id = ?";
    if (!narrowing.empty()) text += " AND (" + narrowing + ")";
    text += " ORDER BY uid";
    auto stmt = db->prepare(text);
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id);
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      rows.push_back(Row{static_cast<std::uint32_t>(stmt->int64(0)),
                         static_cast<std::uint32_t>(stmt->int64(1)), stmt->text(2),
                         static_cast<std::uint64_t>(stmt->int64(3)),
                         static_cast<std::uint64_t>(stmt->int64(4)), stmt->int64(5), stmt->int64(6),
                         stmt->text(7), static_cast<std::uint64_t>(stmt->int64(8))});
    }
    stmt = Statement();
    return txn->commit();
  }();
  releaseReader(std::move(db));
  if (!collected) return fail(collected.error());

  Evaluator evaluator(query);
  std::vector<SearchHit> out;
  for (const Row& row : rows) {
    Truth answer = evaluator.evaluate(row, nullptr);
    if (answer == Truth::Unknown) {
      Content content;
      const auto path = blobPath(row.blob);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid() || !loadContent(fd.get(), row, evaluator, content)) continue;
      answer = evaluator.evaluate(row, &content);
    }
    if (answer == Truth::True) out.push_back(SearchHit{row.uid, row.modseq});
  }
  return out;
}

}  // namespace popbridge::store
