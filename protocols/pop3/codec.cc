// The POP3 codec (STYLE.md 3.4): status lines, command encoding, base64 and the parsers for the
// small replies. The stateful part, the reply reader, is in reply_reader.cc.

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/pop3/commands.h"
#include "protocols/pop3/parsers.h"
#include "protocols/pop3/reply.h"

namespace popbridge::pop3 {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

char upperAscii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }

std::string upperCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upperAscii(c);
  return out;
}

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upperAscii(a[i]) != upperAscii(b[i])) return false;
  }
  return true;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsNoCase(s.substr(0, prefix.size()), prefix);
}

// Printable ASCII without space: the octets of POP3 keywords, unique-ids (RFC 1939 section 7)
// and msg-ids.
bool isGraphic(char c) { return c >= '!' && c <= '~'; }

// The next blank-separated word of `s` from `pos` on (empty at the end); `pos` moves past it.
// No allocation: UIDL and LIST lines come by the ten thousand on a large maildrop.
std::string_view nextWord(std::string_view s, std::size_t& pos) {
  while (pos < s.size() && isBlank(s[pos])) ++pos;
  const std::size_t start = pos;
  while (pos < s.size() && !isBlank(s[pos])) ++pos;
  return s.substr(start, pos - start);
}

std::vector<std::string_view> splitBlanks(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isBlank(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !isBlank(s[i])) ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

// Digits only: no sign, no blanks; overflow is a failure.
template <class T>
std::optional<T> parseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  T value{};
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// RFC 2449 section 8: resp-code = "[" resp-level *("/" resp-level) "]", resp-level = 1*rchar,
// rchar = %x21-2E / %x30-5C / %x5E-7F.
bool isRespCode(std::string_view inner) {
  if (inner.empty() || inner.front() == '/' || inner.back() == '/') return false;
  char prev = '\0';
  for (char c : inner) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      if (prev == '/') return false;
    } else if (u < 0x21 || u > 0x7F || c == ']') {
      return false;
    }
    prev = c;
  }
  return true;
}

ReplyError refused(std::string message) { return ReplyError{std::move(message)}; }

bool hasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> makeBase64Values() {
  std::array<std::int8_t, 256> values{};
  for (auto& v : values) v = -1;
  for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i) {
    values[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return values;
}

constexpr std::array<std::int8_t, 256> kBase64Values = makeBase64Values();

}  // namespace

// ---------------------------------------------------------------------------------------------
// Status lines

Result<Status, ReplyError> parseStatusLine(std::string_view line) {
  Status status;
  std::string_view rest;
  // RFC 1939 section 3: status indicators are uppercase; servers in the wild also send "+ok".
  if (startsWithNoCase(line, "+OK")) {
    status.ok = true;
    rest = line.substr(3);
  } else if (startsWithNoCase(line, "-ERR")) {
    rest = line.substr(4);
  } else {
    return fail(ReplyError{"malformed status line"});
  }
  if (!rest.empty() && !isBlank(rest.front())) return fail(ReplyError{"malformed status line"});
  rest = trimBlanks(rest);
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close != std::string_view::npos && isRespCode(rest.substr(1, close - 1))) {
      status.code = upperCopy(rest.substr(1, close - 1));
      rest = trimBlanks(rest.substr(close + 1));
    }
  }
  status.text = std::string(rest);
  return status;
}

// ---------------------------------------------------------------------------------------------
// Commands

Result<std::string, ReplyError> encodeCommand(std::string_view verb, std::string_view arg) {
  // RFC 2449 section 4 allows keywords up to 40 octets (RFC 1939 had 3 or 4).
  if (verb.empty() || verb.size() > 40)
    return fail(refused("command keyword must be 1..40 octets"));
  for (char c : verb) {
    if (!isGraphic(c)) return fail(refused("command keyword has a blank or control octet"));
  }
  if (hasLineBreakOrNul(arg)) return fail(refused("command argument contains CR, LF or NUL"));
  if (arg.empty()) {
    static constexpr std::array<std::string_view, 7> kNeedArg = {"USER", "PASS", "APOP", "AUTH",
                                                                 "RETR", "DELE", "TOP"};
    for (std::string_view needs : kNeedArg) {
      if (equalsNoCase(verb, needs)) return fail(refused("command needs an argument"));
    }
  }
  std::string line;
  line.reserve(verb.size() + arg.size() + 3);
  line.append(verb);
  if (!arg.empty()) {
    line.push_back(' ');
    line.append(arg);
  }
  line.append("\r\n");
  return line;
}

std::string encodeCommand(std::string_view verb, std::uint32_t number) {
  std::string line(verb);
  line.push_back(' ');
  line.append(std::to_string(number));
  line.append("\r\n");
  return line;
}

std::string encodeCommand(std::string_view verb, std::uint32_t number, std::uint32_t lines) {
  std::string line(verb);
  line.push_back(' ');
  line.append(std::to_string(number));
  line.push_back(' ');
  line.append(std::to_string(lines));
  line.append("\r\n");
  return line;
}

Result<std::string, ReplyError> encodeApop(std::string_view name, std::string_view hex_digest) {
  if (name.empty()) return fail(refused("APOP needs a name"));
  for (char c : name) {
    if (!isGraphic(c)) return fail(refused("APOP name has a blank or control octet"));
  }
  if (hex_digest.size() != 32) return fail(refused("APOP digest must be 32 hex digits"));
  std::string arg(name);
  arg.push_back(' ');
  for (char c : hex_digest) {
    // RFC 1939 section 7: the digest is sent in lower-case hex.
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c + ('a' - 'A'));
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return fail(refused("APOP digest must be 32 hex digits"));
    }
    arg.push_back(c);
  }
  return encodeCommand("APOP", arg);
}

std::string saslPlainInitial(std::string_view authzid, std::string_view user,
                             std::string_view password) {
  std::string message;
  message.reserve(authzid.size() + user.size() + password.size() + 2);
  message.append(authzid);
  message.push_back('\0');
  message.append(user);
  message.push_back('\0');
  message.append(password);
  return base64Encode(message);
}

Result<std::string, ReplyError> saslPlainInitialChecked(std::string_view authzid,
                                                        std::string_view user,
                                                        std::string_view password) {
  // A NUL would move the field boundaries (RFC 4616 section 2).
  for (std::string_view field : {authzid, user, password}) {
    if (field.find('\0') != std::string_view::npos) {
      return fail(refused("SASL PLAIN field contains NUL"));
    }
  }
  return saslPlainInitial(authzid, user, password);
}

Result<std::string, ReplyError> saslXoauth2Initial(std::string_view user, std::string_view token) {
  for (std::string_view field : {user, token}) {
    if (field.find('\x01') != std::string_view::npos || hasLineBreakOrNul(field)) {
      return fail(refused("XOAUTH2 field contains a control octet"));
    }
  }
  std::string message = "user=";
  message.append(user);
  message.append(
      "\x01"
      "auth=Bearer ");
  message.append(token);
  message.append("\x01\x01");
  return base64Encode(message);
}

SaslLoginPrompt saslLoginPrompt(std::string_view decoded_challenge) {
  std::string letters;
  for (char c : decoded_challenge) {
    c = upperAscii(c);
    if (c >= 'A' && c <= 'Z') letters.push_back(c);
  }
  if (letters.starts_with("USER")) return SaslLoginPrompt::Username;
  if (letters.starts_with("PASS")) return SaslLoginPrompt::Password;
  return SaslLoginPrompt::Unknown;
}

std::string encodeSaslResponse(std::string_view raw) { return base64Encode(raw) + "\r\n"; }

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto octet = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (octet(i) << 16) | (octet(i + 1) << 8) | octet(i + 2);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  const std::size_t left = bytes.size() - i;
  if (left == 1) {
    const std::uint32_t n = octet(i) << 16;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.append("==");
  } else if (left == 2) {
    const std::uint32_t n = (octet(i) << 16) | (octet(i + 1) << 8);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

Result<std::string, ReplyError> base64Decode(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  // With padding, the whole must be a multiple of 4; without, a remainder of 1 cannot occur.
  if (padding > 0 && (text.size() + padding) % 4 != 0) return fail(refused("bad base64 padding"));
  if (text.size() % 4 == 1) return fail(refused("bad base64 length"));
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const std::int8_t v = kBase64Values[static_cast<unsigned char>(c)];
    if (v < 0) return fail(refused("bad base64 character"));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reply parsers

Capabilities parseCapabilities(std::span<const std::string> lines) {
  Capabilities caps;
  for (const std::string& line : lines) {
    const std::vector<std::string_view> words = splitBlanks(line);
    if (words.empty()) continue;
    const std::string name = upperCopy(words[0]);
    if (name == "TOP") {
      caps.top = true;
    } else if (name == "UIDL") {
      caps.uidl = true;
    } else if (name == "USER") {
      caps.user = true;
    } else if (name == "PIPELINING") {
      caps.pipelining = true;
    } else if (name == "STLS") {
      caps.stls = true;
    } else if (name == "RESP-CODES") {
      caps.resp_codes = true;
    } else if (name == "AUTH-RESP-CODE") {
      caps.auth_resp_code = true;
    } else if (name == "SASL") {
      for (std::size_t i = 1; i < words.size(); ++i) {
        std::string mech = upperCopy(words[i]);
        bool seen = false;
        for (const std::string& known : caps.sasl) seen = seen || known == mech;
        if (!seen) caps.sasl.push_back(std::move(mech));
      }
    } else if (name == "LOGIN-DELAY") {
      // RFC 2449 section 6.5: "LOGIN-DELAY" SP delay-secs [SP "USER"].
      if (words.size() >= 2) caps.login_delay = parseNumber<std::uint32_t>(words[1]);
      caps.login_delay_user =
          caps.login_delay && words.size() >= 3 && equalsNoCase(words[2], "USER");
    } else if (name == "EXPIRE") {
      // RFC 2449 section 6.7: "EXPIRE" SP (days / "NEVER") [SP "USER"].
      if (words.size() >= 2) {
        if (equalsNoCase(words[1], "NEVER")) {
          caps.expire_days = std::numeric_limits<std::uint32_t>::max();
        } else {
          caps.expire_days = parseNumber<std::uint32_t>(words[1]);
        }
      }
      caps.expire_user = caps.expire_days && words.size() >= 3 && equalsNoCase(words[2], "USER");
    } else if (name == "IMPLEMENTATION") {
      // RFC 2449 section 6.9: free text after the name.
      const std::string_view text = trimBlanks(line);
      caps.implementation = std::string(trimBlanks(text.substr(words[0].size())));
    }
  }
  return caps;
}

Result<UidlEntry, ReplyError> parseUidlLine(std::string_view line) {
  std::size_t pos = 0;
  const std::string_view first = nextWord(line, pos);
  const std::string_view uid = nextWord(line, pos);
  if (first.empty() || uid.empty() || !nextWord(line, pos).empty()) {
    return fail(ReplyError{"malformed UIDL line"});
  }
  const auto number = parseNumber<std::uint32_t>(first);
  if (!number || *number == 0) return fail(ReplyError{"bad message number in UIDL line"});
  // RFC 1939 section 7: 1 to 70 characters in the range 0x21 to 0x7E.
  if (uid.size() > 70) return fail(ReplyError{"unique-id longer than 70 octets"});
  for (char c : uid) {
    if (!isGraphic(c)) return fail(ReplyError{"unique-id has an octet outside 0x21..0x7E"});
  }
  return UidlEntry{*number, std::string(uid)};
}

Result<ListEntry, ReplyError> parseListLine(std::string_view line) {
  std::size_t pos = 0;
  const std::string_view first = nextWord(line, pos);
  const std::string_view second = nextWord(line, pos);
  if (second.empty()) return fail(ReplyError{"malformed LIST line"});
  const auto number = parseNumber<std::uint32_t>(first);
  if (!number || *number == 0) return fail(ReplyError{"bad message number in LIST line"});
  const auto size = parseNumber<std::uint64_t>(second);
  if (!size) return fail(ReplyError{"bad size in LIST line"});
  return ListEntry{*number, *size};
}

Result<StatInfo, ReplyError> parseStat(std::string_view text) {
  const std::vector<std::string_view> words = splitBlanks(text);
  if (words.size() < 2) return fail(ReplyError{"malformed STAT reply"});
  const auto count = parseNumber<std::uint32_t>(words[0]);
  const auto size = parseNumber<std::uint64_t>(words[1]);
  if (!count || !size) return fail(ReplyError{"malformed STAT reply"});
  return StatInfo{*count, *size};
}

std::optional<std::string> apopBanner(std::string_view greeting_text) {
  std::size_t open = greeting_text.find('<');
  while (open != std::string_view::npos) {
    std::size_t i = open + 1;
    bool at = false;
    bool valid = true;
    std::size_t restart = std::string_view::npos;
    for (; i < greeting_text.size() && greeting_text[i] != '>'; ++i) {
      const char c = greeting_text[i];
      if (c == '<') {
        // A nested "<" starts the next candidate; scanning from it keeps this linear.
        restart = i;
        break;
      }
      if (!isGraphic(c)) valid = false;
      if (c == '@') at = true;
    }
    if (restart != std::string_view::npos) {
      open = restart;
      continue;
    }
    if (i >= greeting_text.size()) return std::nullopt;  // no closing ">"
    if (valid && at) return std::string(greeting_text.substr(open, i - open + 1));
    open = greeting_text.find('<', i + 1);
  }
  return std::nullopt;
}

}  // namespace popbridge::pop3
