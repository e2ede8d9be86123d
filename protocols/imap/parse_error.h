#pragma once

#include <string>
#include <utility>

namespace popbridge::imap {

// Why a client command could not be turned into a Command (STYLE.md 7.2).
struct ParseError {
  enum class Kind {
    Bad,      // syntax: the session answers "tag BAD message"
    TooLong,  // a line, nesting or command bound was exceeded; the session answers BAD and may
              // close
    UnknownCommand,  // well-formed start, but a command popbridge does not know
    // A literal larger than Limits allow. The reader has framed the rest safely (a synchronizing
    // literal is not expected, a non-synchronizing one is read and dropped): the session
    // answers "tag BAD [TOOBIG]" and goes on (RFC 7888 4, RFC 5530 3 TOOBIG).
    LiteralTooLarge
  };
  Kind kind = Kind::Bad;
  std::string tag;  // the command's tag when it could be read, else empty (session answers "* BAD")
  std::string message;  // human text for the BAD response
};

// A syntax error with the given message and no tag (the reader fills the tag in).
inline ParseError badSyntax(std::string message) {
  return ParseError{ParseError::Kind::Bad, {}, std::move(message)};
}

}  // namespace popbridge::imap
