#pragma once

// Internal to pb_mime: the RFC 5322 / RFC 2045 lexical layer used to read header values
// (atoms, quoted strings, comments, MIME tokens, parameters, addresses). It follows the
// tolerant reading Dovecot's lib-mail applies, so the structures popbridge reports match what
// IMAP clients already see from Dovecot. No recursion: comments nest by a counter.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/message.h"

namespace popbridge::mime::rfc822 {

// Reads one header value. Functions return 1 when more input follows the parsed item, 0 when
// the input ended cleanly, -1 on a syntax error (the position is then unspecified but valid).
class Lexer {
 public:
  explicit Lexer(std::string_view input) : data_(input) {}

  bool atEnd() const { return pos_ >= data_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(data_[pos_]); }
  void advance() { ++pos_; }
  std::size_t position() const { return pos_; }
  void setPosition(std::size_t pos) { pos_ = pos; }

  // When set, comment text is recorded (the last comment skipped; used for "addr (Name)").
  void recordComments(bool on) { record_comments_ = on; }
  std::string& lastComment() { return last_comment_; }
  // When set, NUL bytes inside quoted strings, comments and domain literals become U+FFFD.
  void replaceNuls(bool on) { replace_nuls_ = on; }

  int skipComment();
  int skipLwsp();
  int parseAtom(std::string& out);
  int parseDotAtom(std::string& out);
  int parseMimeToken(std::string& out);
  int parseQuotedString(std::string& out);
  int parsePhrase(std::string& out);
  int parseDomain(std::string& out);
  // "type/subtype" into out; on a syntax error out is left empty.
  int parseContentType(std::string& out);
  // One ";name=value"; returns 0 at the end, -1 on a broken parameter.
  int parseContentParam(std::string& name, std::string& value);

 private:
  int parseAtomOrDot(std::string& out);
  int parseDomainLiteral(std::string& out);
  void appendNul(std::string& out) const;

  std::string_view data_;
  std::size_t pos_ = 0;
  bool record_comments_ = false;
  bool replace_nuls_ = false;
  std::string last_comment_;
};

bool isAtext(unsigned char c);
bool isMimeTokenChar(unsigned char c);  // atext minus the MIME tspecials '/', '=', '?'

// RFC 2045 5.1 / RFC 2231 parameters following a Content-Type or Content-Disposition value.
// Continuations (name*0, name*1*) are joined in index order when complete; incomplete sets are
// reported piece by piece.
std::vector<Param> parseParams(Lexer& lexer);

// RFC 5322 3.4 address-list, with obsolete forms and broken input read as leniently as Dovecot
// does (missing parts are reported as MISSING_MAILBOX / MISSING_DOMAIN / SYNTAX_ERROR).
std::vector<Address> parseAddressList(std::string_view value);

// A header value with every NUL byte replaced by U+FFFD, so it stays a valid IMAP string.
std::string replaceNuls(std::string_view value);

bool iequals(std::string_view a, std::string_view b);

}  // namespace popbridge::mime::rfc822
