#include "protocols/mime/rfc822.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace popbridge::mime::rfc822 {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// RFC 5322 3.2.3 atext (1), letters/digits/8-bit (2), and atext that RFC 2045 5.1 counts among
// the tspecials (4). 8-bit bytes are accepted as atext: real mail carries raw UTF-8 there.
constexpr std::array<unsigned char, 256> makeAtextTable() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    unsigned char v = 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 128) {
      v = 2;
    }
    t[static_cast<std::size_t>(c)] = v;
  }
  for (char c : std::string_view("!#$%&'*+-^_`{|}~")) {
    t[static_cast<unsigned char>(c)] = 1;
  }
  for (char c : std::string_view("/=?")) {
    t[static_cast<unsigned char>(c)] = 4;
  }
  return t;
}

constexpr std::array<unsigned char, 256> kAtext = makeAtextTable();

bool isLwsp(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

}  // namespace

bool isAtext(unsigned char c) { return kAtext[c] != 0; }
bool isMimeTokenChar(unsigned char c) { return (kAtext[c] & 3) != 0; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string replaceNuls(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\0') {
      out += kReplacementChar;
    } else {
      out += c;
    }
  }
  return out;
}

void Lexer::appendNul(std::string& out) const { out += kReplacementChar; }

int Lexer::skipComment() {
  // comment = "(" *([FWS] ccontent) [FWS] ")"; nesting is counted, never recursed.
  int level = 1;
  if (record_comments_) last_comment_.clear();
  std::size_t start = ++pos_;
  for (; pos_ < data_.size(); ++pos_) {
    unsigned char c = peek();
    switch (c) {
      case '\0':
        if (record_comments_ && replace_nuls_) {
          last_comment_.append(data_.substr(start, pos_ - start));
          appendNul(last_comment_);
          start = pos_ + 1;
        }
        break;
      case '(':
        ++level;
        break;
      case ')':
        if (--level == 0) {
          if (record_comments_) last_comment_.append(data_.substr(start, pos_ - start));
          ++pos_;
          return pos_ < data_.size() ? 1 : 0;
        }
        break;
      case '\n': {
        if (!record_comments_) break;
        std::size_t len = pos_ - start;
        if (len > 0 && data_[start + len - 1] == '\r') --len;
        last_comment_.append(data_.substr(start, len));
        start = pos_ + 1;
        break;
      }
      case '\\':
        ++pos_;
        if (pos_ >= data_.size()) return -1;
        if (data_[pos_] == '\r' || data_[pos_] == '\n' || data_[pos_] == '\0') {
          --pos_;
          break;
        }
        if (record_comments_) last_comment_.append(data_.substr(start, pos_ - start - 1));
        start = pos_;
        break;
      default:
        break;
    }
  }
  return -1;  // missing ')'
}

int Lexer::skipLwsp() {
  while (pos_ < data_.size()) {
    unsigned char c = peek();
    if (isLwsp(c)) {
      ++pos_;
      continue;
    }
    if (c != '(') break;
    if (skipComment() < 0) return -1;
  }
  return pos_ < data_.size() ? 1 : 0;
}

int Lexer::parseAtom(std::string& out) {
  if (pos_ >= data_.size() || !isAtext(peek())) return -1;
  std::size_t start = pos_++;
  for (; pos_ < data_.size(); ++pos_) {
    if (isAtext(peek())) continue;
    out.append(data_.substr(start, pos_ - start));
    return skipLwsp();
  }
  out.append(data_.substr(start, pos_ - start));
  return 0;
}

int Lexer::parseDotAtom(std::string& out) {
  // dot-atom, allowing CFWS around the dots as RFC 822 did.
  if (pos_ >= data_.size() || !isAtext(peek())) return -1;
  std::size_t start = pos_++;
  while (pos_ < data_.size()) {
    if (isAtext(peek())) {
      ++pos_;
      continue;
    }
    if (start == pos_) return -1;
    out.append(data_.substr(start, pos_ - start));
    int ret = skipLwsp();
    if (ret <= 0) return ret;
    if (peek() != '.') return 1;
    ++pos_;
    out += '.';
    if (skipLwsp() <= 0) return -1;
    start = pos_;
  }
  out.append(data_.substr(start, pos_ - start));
  return 0;
}

int Lexer::parseMimeToken(std::string& out) {
  std::size_t start = pos_;
  for (; pos_ < data_.size(); ++pos_) {
    if (isMimeTokenChar(peek()) || peek() == '.') continue;
    out.append(data_.substr(start, pos_ - start));
    return skipLwsp();
  }
  out.append(data_.substr(start, pos_ - start));
  return 0;
}

int Lexer::parseQuotedString(std::string& out) {
  ++pos_;  // the opening DQUOTE
  std::size_t start = pos_;
  for (; pos_ < data_.size(); ++pos_) {
    switch (peek()) {
      case '\0':
        if (replace_nuls_) {
          out.append(data_.substr(start, pos_ - start));
          appendNul(out);
          start = pos_ + 1;
        }
        break;
      case '"':
        out.append(data_.substr(start, pos_ - start));
        ++pos_;
        return skipLwsp();
      case '\n': {
        // Folding inside the quotes: the (CR)LF goes, the whitespace after it stays.
        std::size_t len = pos_ - start;
        if (len > 0 && data_[start + len - 1] == '\r') --len;
        out.append(data_.substr(start, len));
        start = pos_ + 1;
        break;
      }
      case '\\':
        ++pos_;
        if (pos_ >= data_.size()) return -1;
        if (data_[pos_] == '\r' || data_[pos_] == '\n' || data_[pos_] == '\0') {
          --pos_;
          break;
        }
        out.append(data_.substr(start, pos_ - start - 1));
        start = pos_;
        break;
      default:
        break;
    }
  }
  return -1;  // missing closing DQUOTE
}

int Lexer::parseAtomOrDot(std::string& out) {
  std::size_t start = pos_;
  for (; pos_ < data_.size(); ++pos_) {
    if (isAtext(peek()) || peek() == '.') continue;
    out.append(data_.substr(start, pos_ - start));
    return skipLwsp();
  }
  out.append(data_.substr(start, pos_ - start));
  return 0;
}

int Lexer::parsePhrase(std::string& out) {
  // phrase = 1*word / obs-phrase (words, dots and CFWS); words are joined by one space.
  if (pos_ >= data_.size()) return 0;
  if (peek() == '.') return -1;
  for (;;) {
    int ret = peek() == '"' ? parseQuotedString(out) : parseAtomOrDot(out);
    if (ret <= 0) return ret;
    unsigned char c = peek();
    if (!isAtext(c) && c != '"' && c != '.') break;
    out += ' ';
  }
  return skipLwsp();
}

int Lexer::parseDomainLiteral(std::string& out) {
  std::size_t start = pos_++;
  for (; pos_ < data_.size(); ++pos_) {
    switch (peek()) {
      case '\0':
        if (replace_nuls_) {
          out.append(data_.substr(start, pos_ - start));
          appendNul(out);
          start = pos_ + 1;
        }
        break;
      case '[':
        return -1;
      case ']':
        out.append(data_.substr(start, pos_ - start + 1));
        ++pos_;
        return skipLwsp();
      case '\n': {
        std::size_t len = pos_ - start;
        if (len > 0 && data_[start + len - 1] == '\r') --len;
        out.append(data_.substr(start, len));
        start = pos_ + 1;
        break;
      }
      case '\\':
        ++pos_;
        if (pos_ >= data_.size()) return -1;
        if (data_[pos_] == '\r' || data_[pos_] == '\n' || data_[pos_] == '\0') {
          out.append(data_.substr(start, pos_ - start));
          start = pos_;
          --pos_;
        }
        break;
      default:
        break;
    }
  }
  return -1;
}

int Lexer::parseDomain(std::string& out) {
  ++pos_;  // '@'
  if (skipLwsp() <= 0) return -1;
  if (peek() == '[') return parseDomainLiteral(out);
  return parseDotAtom(out);
}

int Lexer::parseContentType(std::string& out) {
  // RFC 2045 5.1: type "/" subtype, then only parameters may follow.
  if (skipLwsp() <= 0) return -1;
  // A type running to the end of the value ("Content-Type: text") is kept, without subtype.
  if (parseMimeToken(out) <= 0 || out.empty()) return -1;
  if (peek() != '/') {
    out.clear();
    return -1;
  }
  ++pos_;
  if (skipLwsp() <= 0) {
    out.clear();
    return -1;
  }
  out += '/';
  std::size_t sub_start = out.size();
  int ret = parseMimeToken(out);
  if (ret < 0 || out.size() == sub_start || (pos_ < data_.size() && peek() != ';')) {
    out.clear();
    return -1;
  }
  return ret;
}

int Lexer::parseContentParam(std::string& name, std::string& value) {
  name.clear();
  value.clear();
  if (pos_ >= data_.size()) return 0;
  if (peek() != ';') return -1;
  ++pos_;
  if (skipLwsp() <= 0) return -1;
  if (parseMimeToken(name) <= 0) return -1;
  if (peek() != '=') return -1;
  ++pos_;
  int ret = skipLwsp();
  if (ret <= 0) {
    // no value
  } else if (peek() == '"') {
    ret = parseQuotedString(value);
  } else if (peek() == '=') {
    // Broken senders write name==?utf-8?b?...?= unquoted: keep it up to the next separator.
    while (pos_ < data_.size() && peek() != ';' && peek() != ' ' && peek() != '\t' &&
           peek() != '\r' && peek() != '\n') {
      value += data_[pos_++];
    }
  } else {
    ret = parseMimeToken(value);
  }
  return ret < 0 ? -1 : 1;
}

namespace {

struct Rfc2231Piece {
  std::string key;
  std::string value;
  unsigned idx = 0;
  bool extended = false;
};

void appendPercentEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::vector<Param> parseParams(Lexer& lexer) {
  lexer.replaceNuls(true);
  std::vector<Param> result;
  std::vector<Rfc2231Piece> pieces;
  std::string name;
  std::string value;
  for (;;) {
    int ret = lexer.parseContentParam(name, value);
    if (ret == 0) break;
    if (ret < 0) {
      // Skip one byte and try again: one broken parameter does not hide the rest.
      if (lexer.atEnd()) break;
      lexer.advance();
      continue;
    }
    std::size_t star = name.find('*');
    bool plain = true;
    if (star != std::string::npos) {
      // RFC 2231 3/4: name*N, name*N*, name*
      Rfc2231Piece piece;
      std::size_t p = star;
      if (p + 1 < name.size()) {
        ++p;
        piece.idx = 0;
        while (p < name.size() && name[p] >= '0' && name[p] <= '9') {
          piece.idx = piece.idx * 10 + static_cast<unsigned>(name[p] - '0');
          ++p;
        }
      }
      if (p < name.size() && name[p] == '*') {
        piece.extended = true;
        ++p;
      }
      if (p == name.size()) {
        piece.key = name.substr(0, star);
        piece.value = value;
        pieces.push_back(std::move(piece));
        plain = false;
      }
    }
    if (plain) result.push_back(Param{name, value});
  }
  lexer.replaceNuls(false);
  if (pieces.empty()) return result;

  std::stable_sort(pieces.begin(), pieces.end(), [](const Rfc2231Piece& a, const Rfc2231Piece& b) {
    if (a.key != b.key) return a.key < b.key;
    return a.idx < b.idx;
  });
  for (std::size_t i = 0, next = 0; i < pieces.size(); i = next) {
    bool ok = true;
    bool have_extended = false;
    unsigned next_idx = 0;
    std::size_t j = i;
    for (; j < pieces.size(); ++j) {
      if (!iequals(pieces[i].key, pieces[j].key)) break;
      if (pieces[j].idx != next_idx) ok = false;
      if (pieces[j].extended) have_extended = true;
      ++next_idx;
    }
    next = j;
    if (!ok) {
      for (j = i; j < next; ++j) {
        std::string key = pieces[j].key + "*" + std::to_string(pieces[j].idx);
        if (pieces[j].extended) key += '*';
        result.push_back(Param{std::move(key), pieces[j].value});
      }
      continue;
    }
    std::string joined;
    if (!pieces[i].extended && have_extended) joined += "''";
    for (j = i; j < next; ++j) {
      if (!pieces[j].extended && have_extended) {
        appendPercentEscaped(joined, pieces[j].value);
      } else {
        joined += pieces[j].value;
      }
    }
    std::string key = pieces[i].key;
    if (have_extended) key += '*';
    result.push_back(Param{std::move(key), std::move(joined)});
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Addresses (RFC 5322 3.4)

namespace {

class AddressParser {
 public:
  explicit AddressParser(std::string_view value) : lex_(value) {
    lex_.recordComments(true);
    lex_.replaceNuls(true);
  }

  std::vector<Address> run() {
    if (lex_.skipLwsp() > 0) parseAddressList();
    return std::move(out_);
  }

 private:
  struct Pending {
    std::optional<std::string> name, route, mailbox, domain;
    bool invalid = false;
  };

  void add() {
    out_.push_back(Address{std::move(cur_.name), std::move(cur_.route), std::move(cur_.mailbox),
                           std::move(cur_.domain)});
    cur_ = Pending{};
  }

  void addFixed() {
    if (!cur_.mailbox) {
      cur_.mailbox = "MISSING_MAILBOX";
      cur_.invalid = true;
    }
    if (!cur_.domain || cur_.domain->empty()) {
      cur_.domain = "MISSING_DOMAIN";
      cur_.invalid = true;
    }
    add();
  }

  bool more() const { return !lex_.atEnd(); }
  unsigned char peek() const { return lex_.peek(); }

  int parseLocalPart() {
    str_.clear();
    int ret = peek() == '"' ? lex_.parseQuotedString(str_) : lex_.parseDotAtom(str_);
    if (ret < 0) return -1;
    cur_.mailbox = str_;
    return ret;
  }

  int parseDomain() {
    str_.clear();
    int ret = lex_.parseDomain(str_);
    if (ret < 0) return -1;
    cur_.domain = str_;
    return ret;
  }

  int parseDomainList() {
    // obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain)
    str_.clear();
    for (;;) {
      if (!more()) return 0;
      if (peek() != '@') break;
      if (!str_.empty()) str_ += ',';
      str_ += '@';
      int ret = lex_.parseDomain(str_);
      if (ret <= 0) return ret;
      while (lex_.skipLwsp() > 0 && peek() == ',') lex_.advance();
    }
    cur_.route = str_;
    return 1;
  }

  int parseAngleAddr() {
    lex_.advance();  // '<'
    if (lex_.skipLwsp() <= 0) return -1;
    if (peek() == '@') {
      if (parseDomainList() > 0 && peek() == ':') {
        lex_.advance();
      } else {
        cur_.route = "INVALID_ROUTE";
        if (!more()) return -1;
      }
      if (lex_.skipLwsp() <= 0) return -1;
    }
    if (peek() != '>') {
      if (parseLocalPart() <= 0) return -1;
      if (peek() == '@') {
        if (parseDomain() <= 0) return -1;
      }
    }
    if (peek() != '>') return -1;
    lex_.advance();
    return lex_.skipLwsp();
  }

  int parseNameAddr() {
    str_.clear();
    if (lex_.parsePhrase(str_) <= 0 || peek() != '<') return -1;
    cur_.name = str_;
    if (cur_.name->empty()) cur_.name.reset();  // "<addr>" without a display name
    if (parseAngleAddr() < 0) {
      cur_.domain = "SYNTAX_ERROR";
      cur_.invalid = true;
    }
    return more() ? 1 : 0;
  }

  int parseAddrSpec() {
    int ret2 = -2;
    lex_.lastComment().clear();
    bool quoted = peek() == '"';
    int ret = parseLocalPart();
    if (ret <= 0) cur_.invalid = true;
    if (ret != 0 && more() && peek() == '@') {
      ret2 = parseDomain();
      if (ret2 <= 0) ret = ret2;
    }
    if (!lex_.lastComment().empty()) {
      cur_.name = lex_.lastComment();  // "user@host (Display Name)"
    } else if (ret2 == -2) {
      // A lone word is a mailbox; anything after it makes the whole thing a display name.
      str_ += ' ';
      std::size_t before = str_.size();
      (void)lex_.parsePhrase(str_);
      if (str_.size() != before) {
        cur_.mailbox.reset();
        cur_.name = str_;
      } else if (!quoted) {
        cur_.domain = "";
      }
      cur_.invalid = true;
      ret = -1;
    }
    return ret;
  }

  int parseMailbox() {
    std::size_t start = lex_.position();
    int ret = parseNameAddr();
    if (ret < 0) {
      lex_.setPosition(start);
      cur_ = Pending{};
      ret = parseAddrSpec();
      if (cur_.invalid && !cur_.name && cur_.mailbox && !cur_.domain) {
        cur_.name = std::move(cur_.mailbox);
        cur_.mailbox.reset();
      }
    }
    if (ret < 0) cur_.invalid = true;
    addFixed();
    return ret;
  }

  int parseGroup() {
    // group = display-name ":" [mailbox-list / CFWS] ";" [CFWS]
    str_.clear();
    if (lex_.parsePhrase(str_) <= 0 || peek() != ':') return -1;
    lex_.advance();
    int ret = lex_.skipLwsp();
    cur_.mailbox = str_;
    add();
    if (ret > 0 && peek() != ';') {
      for (;;) {
        (void)parseMailbox();
        if (!more() || peek() != ',') break;
        lex_.advance();
        if (lex_.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (!more() || peek() != ';') {
        ret = -1;
      } else {
        lex_.advance();
        ret = lex_.skipLwsp();
      }
    }
    add();  // group end marker
    return ret == 0 ? 0 : 1;
  }

  int parseAddress() {
    std::size_t start = lex_.position();
    int ret = parseGroup();
    if (ret < 0) {
      lex_.setPosition(start);
      cur_ = Pending{};
      ret = parseMailbox();
    }
    return ret;
  }

  void parseAddressList() {
    for (;;) {
      if (parseAddress() == 0) break;
      if (!more() || peek() != ',') break;
      lex_.advance();
      int ret = lex_.skipLwsp();
      if (ret <= 0) {
        if (ret < 0) addFixed();  // ends with garbage
        break;
      }
    }
  }

  Lexer lex_;
  Pending cur_;
  std::string str_;
  std::vector<Address> out_;
};

}  // namespace

std::vector<Address> parseAddressList(std::string_view value) { return AddressParser(value).run(); }

}  // namespace popbridge::mime::rfc822
