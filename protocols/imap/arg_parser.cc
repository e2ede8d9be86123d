#include "protocols/imap/arg_parser.h"

#include <cctype>

#include "protocols/imap/mutf7.h"

namespace popbridge::imap {

bool isAtomChar(unsigned char c) {
  // atom-specials (RFC 3501 9): "(" ")" "{" SP CTL list-wildcards quoted-specials resp-specials.
  // Bytes >= 0x80 are tolerated as clients send UTF-8 names unquoted (RFC 9051 allows UTF-8).
  if (c <= 0x20 || c == 0x7f) {
    return false;
  }
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return false;
    default:
      return true;
  }
}

bool isAstringChar(unsigned char c) { return isAtomChar(c) || c == ']'; }

bool isTagChar(unsigned char c) { return isAstringChar(c) && c != '+'; }

bool isListChar(unsigned char c) { return isAstringChar(c) || c == '%' || c == '*'; }

ArgParser::ArgParser(CommandText& command, std::size_t pos, MailboxNames names)
    : command_(command), pos_(pos), names_(names) {}

char ArgParser::peek() const { return pos_ < command_.text.size() ? command_.text[pos_] : '\0'; }

bool ArgParser::atEnd() const {
  for (std::size_t i = pos_; i < command_.text.size(); ++i) {
    if (command_.text[i] != ' ') {
      return false;
    }
  }
  return true;
}

bool ArgParser::consumeIf(char c) {
  if (pos_ < command_.text.size() && command_.text[pos_] == c && !atLiteral()) {
    ++pos_;
    return true;
  }
  return false;
}

Result<void, ParseError> ArgParser::expect(char c, std::string_view what) {
  if (consumeIf(c)) {
    return {};
  }
  return fail(badSyntax("Expected " + std::string(what)));
}

Result<void, ParseError> ArgParser::sp() {
  if (consumeIf(' ')) {
    return {};
  }
  if (pos_ >= command_.text.size()) {
    return fail(badSyntax("Missing arguments"));
  }
  return fail(badSyntax("Expected a space"));
}

Result<void, ParseError> ArgParser::end() {
  if (atEnd()) {
    pos_ = command_.text.size();
    return {};
  }
  return fail(badSyntax("Unexpected extra arguments"));
}

const LiteralPiece* ArgParser::literalAt(std::size_t pos) const {
  if (next_literal_ < command_.literals.size() && command_.literals[next_literal_].pos == pos) {
    return &command_.literals[next_literal_];
  }
  return nullptr;
}

bool ArgParser::atLiteral() const { return literalAt(pos_) != nullptr; }

bool ArgParser::atStreamedLiteral() const {
  const LiteralPiece* piece = literalAt(pos_);
  return piece != nullptr && piece->streamed.has_value();
}

Result<StreamedLiteral, ParseError> ArgParser::streamedLiteral(Literal8 literal8) {
  const LiteralPiece* piece = literalAt(pos_);
  if (piece == nullptr || !piece->streamed) {
    return fail(badSyntax("Expected a message literal"));
  }
  if (piece->binary && literal8 == Literal8::Reject) {
    return fail(badSyntax("literal8 is not allowed here"));
  }
  // RFC 3501 9: a literal carries CHAR8 (no NUL); only literal8 may (RFC 3516 4.1).
  if (!piece->binary && piece->has_nul) {
    return fail(badSyntax("NUL in literal (use literal8)"));
  }
  StreamedLiteral out{*piece->streamed, piece->size, piece->binary};
  const std::size_t close = command_.text.find('}', pos_);
  pos_ = close == std::string::npos ? command_.text.size() : close + 1;
  ++next_literal_;
  return out;
}

std::string ArgParser::takeWhile(bool (*accept)(unsigned char)) {
  // A literal announcement is never part of an atom even when it starts with the atom char '~'.
  std::size_t limit = command_.text.size();
  if (next_literal_ < command_.literals.size()) {
    limit = command_.literals[next_literal_].pos;
  }
  const std::size_t start = pos_;
  while (pos_ < limit && accept(static_cast<unsigned char>(command_.text[pos_]))) {
    ++pos_;
  }
  return command_.text.substr(start, pos_ - start);
}

Result<std::string, ParseError> ArgParser::atom() {
  std::string value = takeWhile(isAtomChar);
  if (value.empty()) {
    return fail(badSyntax(pos_ >= command_.text.size() ? "Missing arguments" : "Expected an atom"));
  }
  return value;
}

Result<std::string, ParseError> ArgParser::keyword() {
  auto value = atom();
  if (value) {
    for (char& c : *value) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return value;
}

Result<std::string, ParseError> ArgParser::astring() {
  if (peek() == '"' || atLiteral()) {
    return string();
  }
  std::string value = takeWhile(isAstringChar);
  if (value.empty()) {
    return fail(
        badSyntax(pos_ >= command_.text.size() ? "Missing arguments" : "Expected a string"));
  }
  return value;
}

Result<std::string, ParseError> ArgParser::string(Literal8 literal8, bool* binary) {
  if (binary != nullptr) {
    *binary = false;
  }
  if (atLiteral()) {
    return literal(literal8, binary);
  }
  if (peek() == '"') {
    return quoted();
  }
  return fail(badSyntax(pos_ >= command_.text.size() ? "Missing arguments"
                                                     : "Expected a quoted string or literal"));
}

Result<std::string, ParseError> ArgParser::quoted() {
  ++pos_;  // opening quote
  std::string value;
  const std::string& text = command_.text;
  while (pos_ < text.size()) {
    const char c = text[pos_++];
    if (c == '"') {
      return value;
    }
    if (c == '\\') {
      // RFC 3501 9: only quoted-specials may be escaped.
      if (pos_ < text.size() && (text[pos_] == '"' || text[pos_] == '\\')) {
        value += text[pos_++];
        continue;
      }
      return fail(badSyntax("Invalid escape in quoted string"));
    }
    if (c == '\0' || c == '\r' || c == '\n') {
      return fail(badSyntax("Invalid character in quoted string"));
    }
    value += c;
  }
  return fail(badSyntax("Unterminated quoted string"));
}

Result<std::string, ParseError> ArgParser::literal(Literal8 literal8, bool* binary) {
  LiteralPiece& piece = command_.literals[next_literal_];
  if (piece.streamed) {
    return fail(badSyntax("A literal this large is only accepted as an APPEND message"));
  }
  if (piece.binary && literal8 == Literal8::Reject) {
    return fail(badSyntax("literal8 is not allowed here"));
  }
  // RFC 3501 9: a literal carries CHAR8 (no NUL); only literal8 may (RFC 3516 4.1).
  if (!piece.binary && piece.data.find('\0') != std::string::npos) {
    return fail(badSyntax("NUL in literal (use literal8)"));
  }
  if (binary != nullptr) {
    *binary = piece.binary;
  }
  const std::size_t close = command_.text.find('}', pos_);
  pos_ = close == std::string::npos ? command_.text.size() : close + 1;
  ++next_literal_;
  return std::move(piece.data);
}

Result<std::optional<std::string>, ParseError> ArgParser::nstring() {
  if (peek() == 'N' || peek() == 'n') {
    auto word = keyword();
    if (!word) {
      return fail(word.error());
    }
    if (*word == "NIL") {
      return std::optional<std::string>();
    }
    return fail(badSyntax("Expected NIL or a string"));
  }
  auto value = string();
  if (!value) {
    return fail(value.error());
  }
  return std::optional<std::string>(std::move(*value));
}

namespace {

bool isInbox(std::string_view name) {
  if (name.size() != 5) {
    return false;
  }
  for (std::size_t i = 0; i < 5; ++i) {
    if (std::toupper(static_cast<unsigned char>(name[i])) != "INBOX"[i]) {
      return false;
    }
  }
  return true;
}

bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

bool isSequenceChar(unsigned char c) {
  return isDigit(c) || c == ':' || c == ',' || c == '*' || c == '$';
}

}  // namespace

Result<std::string, ParseError> ArgParser::mailbox() {
  auto raw = astring();
  if (!raw) {
    return raw;
  }
  auto name = decodeName(*raw);
  if (name && isInbox(*name)) {
    *name = "INBOX";
  }
  return name;
}

Result<std::string, ParseError> ArgParser::decodeName(std::string_view raw) const {
  return names_ == MailboxNames::Utf8 ? checkUtf8Name(raw) : decodeMutf7(raw);
}

Result<std::string, ParseError> ArgParser::listMailbox() {
  if (peek() == '"' || atLiteral()) {
    return string();
  }
  std::string value = takeWhile(isListChar);
  if (value.empty()) {
    return fail(badSyntax("Expected a mailbox pattern"));
  }
  return value;
}

Result<std::uint32_t, ParseError> ArgParser::number() {
  auto value = number64();
  if (!value) {
    return fail(value.error());
  }
  if (*value > 0xFFFFFFFFull) {
    return fail(badSyntax("Number too large"));
  }
  return static_cast<std::uint32_t>(*value);
}

Result<std::uint32_t, ParseError> ArgParser::nzNumber() {
  auto value = number();
  if (value && *value == 0) {
    return fail(badSyntax("Expected a non-zero number"));
  }
  return value;
}

Result<std::uint64_t, ParseError> ArgParser::number64() {
  const std::string digits = takeWhile(isDigit);
  if (digits.empty()) {
    return fail(badSyntax("Expected a number"));
  }
  constexpr std::uint64_t kMax = 0x7FFFFFFFFFFFFFFFull;  // RFC 9051 9: number64
  std::uint64_t value = 0;
  for (char c : digits) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) {
      return fail(badSyntax("Number too large"));
    }
    value = value * 10 + digit;
  }
  return value;
}

Result<SequenceSet, ParseError> ArgParser::sequenceSet() {
  const std::string text = takeWhile(isSequenceChar);
  if (text.empty()) {
    return fail(badSyntax("Expected a sequence set"));
  }
  return SequenceSet::parse(text);
}

Result<std::string, ParseError> ArgParser::flag() {
  if (consumeIf('\\')) {
    auto name = atom();
    if (!name) {
      return fail(badSyntax("Invalid system flag"));
    }
    return "\\" + *name;
  }
  auto name = atom();
  if (!name) {
    return fail(badSyntax("Expected a flag"));
  }
  return name;
}

Result<std::vector<std::string>, ParseError> ArgParser::flagList() {
  auto open = expect('(', "a flag list");
  if (!open) {
    return fail(open.error());
  }
  std::vector<std::string> flags;
  if (consumeIf(')')) {
    return flags;
  }
  while (true) {
    auto one = flag();
    if (!one) {
      return fail(one.error());
    }
    flags.push_back(std::move(*one));
    if (consumeIf(')')) {
      return flags;
    }
    auto space = sp();
    if (!space) {
      return fail(badSyntax("Expected ')' or another flag"));
    }
  }
}

}  // namespace popbridge::imap
