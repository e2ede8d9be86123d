#pragma once

// POP3 server replies: the status line (+OK / -ERR, RFC 1939 section 3) and its optional
// extended response code (RFC 2449 section 8).

#include <cstddef>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::pop3 {

// One status line.
struct Status {
  bool ok = false;
  // RESP-CODE without brackets, uppercased: "IN-USE", "SYS/TEMP", "AUTH", "LOGIN-DELAY";
  // empty if none.
  std::string code;
  // The rest of the line, without leading or trailing blanks.
  std::string text;

  friend bool operator==(const Status&, const Status&) = default;
};

// A protocol violation by the server (a line over the limit, a garbage status line, a
// connection closed mid-reply). After one, the connection cannot be trusted to be in step.
struct ReplyError {
  std::string message;

  friend bool operator==(const ReplyError&, const ReplyError&) = default;
};

struct Limits {
  // Longest line accepted, without its terminator. It applies to status lines and body lines
  // alike. RFC 2449 section 4 caps status lines at 512 octets, but real greetings exceed it, and
  // RFC 5322 lines of 998 octets are routinely exceeded by real mail, hence the generous default.
  std::size_t max_line = 64 * 1024;
};

// Parses one status line (without CR/LF).
//
// Returns the Status, or a ReplyError if the line starts with neither "+OK" nor "-ERR". Accepts
// what sloppy servers send: any case ("+ok"), no text at all, blanks before and after the text.
// A leading "[...]" is taken as a response code only if it has RFC 2449 section 8 syntax
// (resp-level *("/" resp-level)); otherwise it stays part of the text. Codes are recognised on
// +OK lines too, which RFC 2449 does not forbid. Pure function, any thread.
Result<Status, ReplyError> parseStatusLine(std::string_view line);

}  // namespace popbridge::pop3
