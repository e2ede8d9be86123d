#include "protocols/imap/encoder.h"

#include <algorithm>
#include <cctype>

#include "protocols/imap/arg_parser.h"

namespace popbridge::imap {
namespace {

bool isNil(std::string_view s) {
  return s.size() == 3 && std::toupper(static_cast<unsigned char>(s[0])) == 'N' &&
         std::toupper(static_cast<unsigned char>(s[1])) == 'I' &&
         std::toupper(static_cast<unsigned char>(s[2])) == 'L';
}

bool canBeAtom(std::string_view s) {
  if (s.empty() || isNil(s)) {
    return false;
  }
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 || !isAstringChar(byte)) {
      return false;
    }
  }
  return true;
}

// RFC 3501 9: QUOTED-CHAR is a 7-bit TEXT-CHAR (no NUL, CR, LF).
bool canBeQuoted(std::string_view s) {
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0 || byte >= 0x80 || c == '\r' || c == '\n') {
      return false;
    }
  }
  return true;
}

void appendStatusWord(std::string& out, Status status) {
  switch (status) {
    case Status::Ok:
      out += "OK";
      break;
    case Status::No:
      out += "NO";
      break;
    case Status::Bad:
      out += "BAD";
      break;
    case Status::Bye:
      out += "BYE";
      break;
    case Status::PreAuth:
      out += "PREAUTH";
      break;
  }
}

void appendSafeText(std::string& out, std::string_view text) {
  for (char c : text) {
    out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  }
}

void appendStatusTail(std::string& out, Status status, std::string_view code,
                      std::string_view text) {
  appendStatusWord(out, status);
  if (!code.empty()) {
    out += " [";
    appendSafeText(out, code);
    out += ']';
  }
  if (!text.empty()) {
    out += ' ';
    appendSafeText(out, text);
  }
  out += "\r\n";
}

}  // namespace

void appendAstring(std::string& out, std::string_view s) {
  if (canBeAtom(s)) {
    out += s;
    return;
  }
  appendString(out, s);
}

void appendMailboxName(std::string& out, std::string_view wire_name, MailboxNames names) {
  const bool eight_bit = std::any_of(wire_name.begin(), wire_name.end(),
                                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (!eight_bit || names == MailboxNames::Mutf7 ||
      wire_name.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    appendAstring(out, wire_name);
    return;
  }
  out += '"';
  for (char c : wire_name) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

void appendString(std::string& out, std::string_view s) {
  if (canBeQuoted(s)) {
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
    return;
  }
  appendLiteralHeader(out, s.size());
  out += s;
}

void appendNString(std::string& out, const std::optional<std::string>& s) {
  if (!s) {
    out += "NIL";
    return;
  }
  appendString(out, *s);
}

void appendLiteralHeader(std::string& out, std::uint64_t size) {
  out += '{';
  out += std::to_string(size);
  out += "}\r\n";
}

void appendFlagList(std::string& out, std::span<const std::string> flags) {
  out += '(';
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (i > 0) {
      out += ' ';
    }
    out += flags[i];
  }
  out += ')';
}

void appendTagged(std::string& out, std::string_view tag, Status status, std::string_view code,
                  std::string_view text) {
  appendSafeText(out, tag);
  out += ' ';
  appendStatusTail(out, status, code, text);
}

void appendUntaggedStatus(std::string& out, Status status, std::string_view code,
                          std::string_view text) {
  out += "* ";
  appendStatusTail(out, status, code, text);
}

void appendUidSet(std::string& out, std::span<const std::uint32_t> uids) {
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) {
      ++j;
    }
    if (i > 0) {
      out += ',';
    }
    out += std::to_string(uids[i]);
    if (j > i) {
      out += ':';
      out += std::to_string(uids[j]);
    }
    i = j + 1;
  }
}

void appendVanished(std::string& out, std::span<const std::uint32_t> uids, Vanished kind) {
  if (uids.empty()) {
    return;
  }
  out += kind == Vanished::Earlier ? "* VANISHED (EARLIER) " : "* VANISHED ";
  appendUidSet(out, uids);
  out += "\r\n";
}

}  // namespace popbridge::imap
