#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// One literal of a command as framed by CommandReader.
struct LiteralPiece {
  std::size_t pos;  // offset in CommandText::text of its "{" (or "~" for literal8)
  std::string data;
  bool binary;  // literal8 "~{n}" (RFC 3516 4.1)
  // Set when the reader streamed the bytes out instead (CommandReader::setStreamedLiteralLimit):
  // `data` is then empty and this is the literal's index among the command's streamed ones.
  std::optional<std::size_t> streamed = std::nullopt;
  std::uint64_t size = 0;  // of a streamed literal
  bool has_nul = false;    // a streamed literal held a NUL byte
};

// A literal whose bytes went elsewhere while the command arrived (LiteralPiece::streamed).
struct StreamedLiteral {
  std::size_t index;
  std::uint64_t size;
  bool binary;
};

// A complete client command: every line of it joined without CRLF (so each literal
// announcement "{n}" is directly followed by the text after its literal) plus the literal bytes.
struct CommandText {
  std::string text;
  std::vector<LiteralPiece> literals;
};

// How mailbox names are spelled on the wire: modified UTF-7 for IMAP4rev1 (RFC 3501 5.1.3), UTF-8
// once the client enabled UTF8=ACCEPT (RFC 6855 3) or IMAP4rev2 (RFC 9051 5.1).
enum class MailboxNames { Mutf7, Utf8 };

// Whether a string argument may be a literal8 (RFC 3516 allows it only where BINARY says so).
enum class Literal8 { Reject, Allow };

// A cursor over one CommandText for the per-command parsers in protocols/imap/commands/.
// Each method consumes what it returns and reports syntax errors as ParseError{Bad} without a tag
// (the reader adds it). Borrows `command` (literals are moved out as they are read); single
// thread; never calls back.
class ArgParser {
 public:
  ArgParser(CommandText& command, std::size_t pos, MailboxNames names = MailboxNames::Mutf7);

  // The next byte without consuming it, '\0' at the end of the command.
  char peek() const;
  // True when nothing but trailing spaces is left.
  bool atEnd() const;
  // Consumes `c` when it is next; returns whether it did.
  bool consumeIf(char c);
  // Consumes `c` or fails with "Expected <what>".
  Result<void, ParseError> expect(char c, std::string_view what);
  // Exactly one SP (RFC 3501 9).
  Result<void, ParseError> sp();
  // Ok when the command ends here (trailing spaces are tolerated), else an error.
  Result<void, ParseError> end();

  // atom (RFC 3501 9): 1*ATOM-CHAR, bytes >= 0x80 tolerated.
  Result<std::string, ParseError> atom();
  // An atom, uppercased: command names and keywords are case-insensitive.
  Result<std::string, ParseError> keyword();
  // astring: 1*ASTRING-CHAR / string.
  Result<std::string, ParseError> astring();
  // string: quoted / literal (literal8 only where `literal8` allows). Sets *binary when given.
  Result<std::string, ParseError> string(Literal8 literal8 = Literal8::Reject,
                                         bool* binary = nullptr);
  // nstring: NIL (empty optional) / string.
  Result<std::optional<std::string>, ParseError> nstring();
  // mailbox: astring in modified UTF-7 (RFC 3501 5.1.3) or UTF-8 (see MailboxNames), returned as
  // UTF-8 with any case of "INBOX" turned into "INBOX" (RFC 3501 5.1). An invalid name is an
  // error.
  Result<std::string, ParseError> mailbox();
  // A mailbox name or pattern as sent (after astring / list-mailbox), as UTF-8.
  Result<std::string, ParseError> decodeName(std::string_view raw) const;
  MailboxNames mailboxNames() const { return names_; }
  // list-mailbox (RFC 3501 9): like astring, also allowing the wildcards '%' and '*'.
  Result<std::string, ParseError> listMailbox();
  // number (32-bit) and nz-number.
  Result<std::uint32_t, ParseError> number();
  Result<std::uint32_t, ParseError> nzNumber();
  // number64 / mod-sequence-value (RFC 9051 9, RFC 7162 7): at most 2^63-1.
  Result<std::uint64_t, ParseError> number64();
  // sequence-set.
  Result<SequenceSet, ParseError> sequenceSet();
  // flag: "\" atom or keyword atom, returned as sent.
  Result<std::string, ParseError> flag();
  // flag-list: "(" [flag *(SP flag)] ")".
  Result<std::vector<std::string>, ParseError> flagList();
  // True when a literal announcement starts here.
  bool atLiteral() const;
  // True when the literal starting here was streamed (LiteralPiece::streamed).
  bool atStreamedLiteral() const;
  // Consumes a streamed literal (literal8 only where `literal8` allows). A non-literal8 one
  // that held a NUL byte is an error (RFC 3501 9). string() refuses streamed literals.
  Result<StreamedLiteral, ParseError> streamedLiteral(Literal8 literal8);

  // Consumes and returns the longest run of bytes accepted by `accept` (possibly empty). Stops
  // before a literal announcement.
  std::string takeWhile(bool (*accept)(unsigned char));

  // Offset in the command text, for error context and rewindTo().
  std::size_t position() const { return pos_; }
  // Moves back to an earlier position() across which no literal was read (lookahead).
  void rewindTo(std::size_t pos) { pos_ = pos; }

 private:
  Result<std::string, ParseError> quoted();
  Result<std::string, ParseError> literal(Literal8 literal8, bool* binary);
  const LiteralPiece* literalAt(std::size_t pos) const;

  CommandText& command_;
  std::size_t pos_;
  std::size_t next_literal_ = 0;
  MailboxNames names_;
};

// Character classes of RFC 3501 9 (ATOM-CHAR with 8-bit bytes tolerated, ASTRING-CHAR, ...).
bool isAtomChar(unsigned char c);
bool isAstringChar(unsigned char c);
bool isTagChar(unsigned char c);
bool isListChar(unsigned char c);

}  // namespace popbridge::imap
