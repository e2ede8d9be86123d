#pragma once

// Push parser for the byte stream a POP3 server sends (STYLE.md 4.1). The driver queues the kind
// of each reply it awaits with expect(), feeds whatever the socket delivered, and drains events
// with next() until NeedMore. Message bodies are never held whole: each body line is handed out
// as soon as its terminator arrives.

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <variant>

#include "protocols/pop3/reply.h"

namespace popbridge::pop3 {

enum class ReplyKind {
  // One status line: the greeting, USER, PASS, APOP, STAT, DELE, NOOP, RSET, QUIT, STLS,
  // LIST n, UIDL n.
  SingleLine,
  // A status line and, after +OK, lines up to "." (RFC 1939 section 3): CAPA, LIST, UIDL,
  // RETR, TOP.
  MultiLine,
  // AUTH (RFC 5034): any number of "+ data" continuation lines, then a status line.
  SaslContinuation,
  // As MultiLine, but the body comes mostly as BodyBlock events: runs of complete lines taken
  // from the buffer as they are, for a driver that stores the bytes (RETR, TOP) rather than
  // looking at each line. Lines that need work still come one by one as BodyLine.
  MultiLineBlock,
};

// No complete event is buffered: feed more bytes (or call finish() at EOF).
struct NeedMore {
  friend bool operator==(NeedMore, NeedMore) = default;
};

// One line of a multi-line reply, dot-unstuffed, without CR/LF. The view points into the
// reader's buffer and is valid until the next call on the reader. The driver writes it out
// followed by "\r\n", which normalises bare-LF servers to CRLF.
struct BodyLine {
  std::string_view text;

  friend bool operator==(const BodyLine&, const BodyLine&) = default;
};

// One or more complete lines of a MultiLineBlock reply, each with its CRLF, none of which
// needed dot-unstuffing or a CRLF in place of a bare LF: the same bytes as their BodyLine
// events each followed by "\r\n" would give. Each line respects Limits::max_line. The view
// points into the reader's buffer and is valid until the next call on the reader.
struct BodyBlock {
  std::string_view text;

  friend bool operator==(const BodyBlock&, const BodyBlock&) = default;
};

// The "." terminating a multi-line reply.
struct End {
  friend bool operator==(End, End) = default;
};

// A SASL server challenge (RFC 5034 section 4): the text after "+ ", still base64-encoded;
// empty for a bare "+".
struct Continuation {
  std::string data;

  friend bool operator==(const Continuation&, const Continuation&) = default;
};

using ReplyEvent =
    std::variant<NeedMore, Status, BodyLine, BodyBlock, End, Continuation, ReplyError>;

// Splits the server's byte stream into reply events.
//
// Line endings: CRLF and bare LF both end a line (servers are sloppy); a CR anywhere else in a
// line, and NUL bytes, are passed through untouched.
//
// Errors are sticky: once next() returned a ReplyError it returns the same error forever, since
// the stream can no longer be matched to commands. The driver should drop the connection.
//
// Single-threaded: one reader belongs to one connection and is used on its thread only. It never
// calls back.
class ReplyReader {
 public:
  explicit ReplyReader(Limits limits = {});

  // Queues the kind of the next reply. Replies arrive in command order; with PIPELINING
  // (RFC 2449 section 6.6) several may be queued. The greeting is a SingleLine.
  void expect(ReplyKind kind);

  // Replies still queued, counting the one being read.
  std::size_t expected() const;

  // Appends a copy of the bytes. Ignored after finish(). Invalidates any BodyLine view.
  void feed(std::string_view bytes);

  // Bytes held but not yet consumed by next(). While a reply is queued and next() has returned
  // NeedMore, that is at most one partial line: bodies are streamed, not accumulated.
  std::size_t buffered() const;

  // Returns the next event.
  // SingleLine: Status. MultiLine: Status; if ok, BodyLine* then End; after -ERR nothing more
  // for that reply. MultiLineBlock: as MultiLine with BodyBlock and BodyLine events mixed, in
  // stream order. SaslContinuation: Continuation* then Status.
  // With no reply queued, returns NeedMore and leaves the bytes buffered (more than max_line
  // of them is a ReplyError).
  ReplyEvent next();

  // The peer closed the connection. A final line lacking CRLF is then delivered as a line (a
  // BodyLine, or a Status); after that, a multi-line reply still open yields
  // ReplyError{"connection closed inside a multi-line reply"}, and a queued reply of which
  // nothing arrived yields ReplyError{"connection closed before the reply"}.
  void finish();

 private:
  enum class Phase { AwaitStatus, InBody };

  // Takes the next complete line out of the buffer (without its terminator). Returns false if
  // there is none yet; sets error_ if the pending line exceeds the limit.
  bool takeLine(std::string_view& line);
  // Takes the longest run of complete CRLF lines at the front of the buffer that need no
  // unstuffing, no CRLF repair and respect the limit; empty if the first line is not one.
  std::string_view takeBlock();
  ReplyEvent fail(std::string message);
  ReplyEvent onStatusLine(std::string_view line);
  ReplyEvent onBodyLine(std::string_view line);

  Limits limits_;
  std::deque<ReplyKind> queue_;
  Phase phase_ = Phase::AwaitStatus;
  std::string buffer_;
  std::size_t pos_ = 0;   // start of the unconsumed bytes in buffer_
  std::size_t scan_ = 0;  // bytes of buffer_ already searched for LF
  bool eof_ = false;
  bool failed_ = false;
  ReplyError error_;
};

}  // namespace popbridge::pop3
