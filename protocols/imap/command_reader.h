#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocols/imap/arg_parser.h"
#include "protocols/imap/command.h"
#include "protocols/imap/limits.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// next() has nothing complete yet: feed more bytes.
struct NeedMore {};
// A synchronizing literal "{n}" was announced and accepted: the session sends a continuation
// request ("+ Ready", RFC 3501 7.5) and keeps feeding.
struct NeedContinuation {
  std::uint64_t literal_size;
};
// One line read in line mode (see expectLine()), without CRLF.
struct Line {
  std::string text;
};
// An APPEND message literal that is streamed (see setStreamedLiteralLimit()) was announced and
// accepted. Its bytes follow as LiteralChunk events instead of being kept in the Command; the
// session sends a continuation request first when `sync` (RFC 3501 7.5). For streamed literals
// this event replaces NeedContinuation.
//
// `tag` and `mailbox` let the session refuse the message before it arrives (RFC 3501 6.3.11:
// NO [TRYCREATE] for a missing mailbox, RFC 9208 NO [OVERQUOTA]) with refuseLiteral().
struct LiteralBegin {
  std::uint64_t size;
  bool binary;  // literal8 "~{n}" (RFC 3516 4.1)
  bool sync;    // "{n}" rather than "{n+}" (RFC 7888)
  std::string tag;
  // The APPEND's mailbox as UTF-8 (as ArgParser::mailbox() reads it), nullopt when the name does
  // not decode (the command then fails to parse once complete).
  std::optional<std::string> mailbox;
  std::size_t index = 0;  // 0 for the command's first streamed literal, then 1, 2, ...
};
// The next bytes of the streamed literal announced by the last LiteralBegin, at most
// CommandReader::kMaxChunk of them. The view borrows the reader's buffer: it is valid until the
// next call on the reader.
struct LiteralChunk {
  std::string_view bytes;
};
using ReadResult =
    std::variant<NeedMore, NeedContinuation, Command, Line, ParseError, LiteralBegin, LiteralChunk>;

// Push-style framing and parsing of client input (STYLE.md 4.1): bytes in, Commands out. Never
// does I/O and never calls back. One instance per connection, used from one thread at a time.
//
// A command is read line by line; a line ending in a literal announcement "{n}", "{n+}"
// (LITERAL+, RFC 7888) or "~{n}" (literal8, RFC 3516) continues after n literal bytes. Limits are
// checked while framing, before anything large is held, and parenthesis nesting is counted with
// a plain counter. Once a command is complete it is parsed as a whole (parseCommand()). Empty
// lines between commands are ignored.
class CommandReader {
 public:
  // The largest LiteralChunk.
  static constexpr std::size_t kMaxChunk = 256 * 1024;

  explicit CommandReader(Limits limits = {});

  // Streams the message literals of APPEND commands (RFC 3501 6.3.11, RFC 3502 MULTIAPPEND,
  // RFC 3516 literal8) of up to `limit` bytes each (the session's APPENDLIMIT, RFC 7889): each is
  // reported as LiteralBegin followed by LiteralChunk events while it arrives, so nothing holds a
  // whole message (STYLE.md 4.3). Such a literal counts against neither max_literal nor
  // max_command; one over `limit` is ParseError{TooBig}. The Command then carries a LiteralPiece
  // with `streamed` set in its place (AppendMessage::streamed). A literal that is the APPEND's
  // mailbox name is never streamed. 0 (the default) streams nothing. Applies to literals
  // announced from now on.
  void setStreamedLiteralLimit(std::uint64_t limit) { streamed_limit_ = limit; }

  // Copies bytes into the reader's buffer. Call next() until it returns NeedMore.
  void feed(std::string_view bytes);

  // The next event. After a ParseError the reader has skipped the rest of the bad command and
  // continues with the next line: a synchronizing literal that was refused is not expected (the
  // client must not send it after the BAD, RFC 3501 7.5), a LITERAL+ literal is read and thrown
  // away (RFC 7888 4). A literal over the limits is ParseError{TooBig}, after which reading on
  // is safe; other limit errors are ParseError{TooLong}, and the session may close instead of
  // relying on that recovery. NeedContinuation is reported once per synchronizing literal.
  ReadResult next();

  // Refuses the streamed literal that next() just announced with LiteralBegin, before any of
  // its bytes: call it before the next call to next(). The command ends here; the caller
  // answers it. A synchronizing literal was not sent by the client (it waits for a continuation
  // request that does not come, RFC 3501 7.5), so the next line starts a new command. A
  // LITERAL+ literal is on its way: exactly its bytes are read and thrown away, never reported,
  // and so is the rest of the command with any further LITERAL+ literals (RFC 7888 4).
  void refuseLiteral();

  // Line mode: the next line (up to CRLF, or bare LF) comes back as Line instead of being parsed
  // as a command. Used for IDLE's "DONE" and AUTHENTICATE continuation responses. One line only;
  // call it between commands (after next() returned a Command or ParseError).
  void expectLine();

  // Bytes buffered but not yet consumed (for STARTTLS: RFC 3501 6.2.1 says data pipelined after
  // STARTTLS must not be processed; the session discards these).
  std::size_t buffered() const;

  // Drops the buffered bytes and any partly read command. Line mode stays as requested.
  void discardBuffered();

  // How mailbox names in the commands parsed from now on are spelled (ENABLE UTF8=ACCEPT or
  // IMAP4rev2 switches to UTF-8; a command already complete but not yet returned is affected).
  void setMailboxNames(MailboxNames names) { names_ = names; }

 private:
  enum class State { Line, Literal, SkipLine };

  ReadResult lineTooLong(std::size_t allowance);
  ReadResult finishCommand();
  // A TooLong error with the command's tag; `visible` bounds how much of a first line that is
  // still in the buffer may be searched for the tag.
  ParseError limitError(std::string message, std::size_t visible = 0,
                        ParseError::Kind kind = ParseError::Kind::TooLong) const;
  void resetCommand();
  void skipLiteralOrEnd(std::string_view line);

  Limits limits_;
  std::string buffer_;
  std::size_t pos_ = 0;      // start of unconsumed bytes in buffer_
  std::size_t scanned_ = 0;  // bytes after pos_ already known to hold no LF
  State state_ = State::Line;
  bool line_mode_ = false;
  bool skipping_line_mode_ = false;  // the line being skipped was a line-mode line

  // The command being assembled.
  CommandText command_;
  std::size_t line_bytes_ = 0;   // bytes of command lines so far (literals excluded)
  std::size_t total_bytes_ = 0;  // bytes of lines and literals so far
  bool in_quote_ = false;
  bool escape_ = false;
  std::size_t depth_ = 0;
  std::uint64_t literal_left_ = 0;
  bool discarding_ = false;  // an error was reported; drop the rest of this command
  std::string skip_tail_;    // the last bytes of a line being skipped
  std::uint64_t streamed_limit_ = 0;
  bool streaming_ = false;          // the literal being read goes out as LiteralChunk events
  bool literal_sync_ = false;       // the streamed literal being read was "{n}", not "{n+}"
  std::size_t streamed_count_ = 0;  // streamed literals of the command so far
  MailboxNames names_ = MailboxNames::Mutf7;
};

}  // namespace popbridge::imap
