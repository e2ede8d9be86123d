#include "protocols/imap/mutf7.h"

#include <cstdint>
#include <vector>

namespace popbridge::imap {
namespace {

// RFC 3501 5.1.3: BASE64 of RFC 2045 with ',' in place of '/'.
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool printableAscii(std::uint32_t c) { return c >= 0x20 && c <= 0x7e; }

void appendUtf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

// The next code point of `text` at `i` (advanced past it); U+FFFD for a malformed sequence.
std::uint32_t nextCodePoint(std::string_view text, std::size_t& i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 1;
  std::uint32_t code = lead;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    code = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    code = lead & 0x0fu;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    code = lead & 0x07u;
  } else if (lead >= 0x80) {
    ++i;
    return 0xfffd;
  }
  if (text.size() - i < length) {
    ++i;
    return 0xfffd;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if ((byte & 0xc0) != 0x80) {
      ++i;
      return 0xfffd;
    }
    code = (code << 6) | (byte & 0x3fu);
  }
  const std::uint32_t minimum = length == 1   ? 0
                                : length == 2 ? 0x80
                                : length == 3 ? 0x800
                                              : 0x10000;
  i += length;
  if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0xfffd;
  return code;
}

void flushBase64(std::string& out, const std::vector<std::uint16_t>& units) {
  out += '&';
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint16_t unit : units) {
    buffer = (buffer << 16) | unit;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3f];
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  out += '-';
}

ParseError invalid() { return badSyntax("Mailbox name is not valid modified UTF-7"); }

}  // namespace

Result<std::string, ParseError> decodeMutf7(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  bool after_shift = false;  // the previous bytes were a BASE64 run
  while (i < text.size()) {
    const char c = text[i];
    if (!printableAscii(static_cast<unsigned char>(c))) return fail(invalid());
    if (c != '&') {
      out += c;
      ++i;
      after_shift = false;
      continue;
    }
    const std::size_t end = text.find('-', i + 1);
    if (end == std::string_view::npos) return fail(invalid());
    if (end == i + 1) {  // "&-"
      out += '&';
      i = end + 1;
      after_shift = false;
      continue;
    }
    // RFC 3501 5.1.3: one run encodes all consecutive non-ASCII characters.
    if (after_shift) return fail(invalid());
    std::uint32_t buffer = 0;
    int bits = 0;
    std::uint32_t high = 0;  // a pending high surrogate
    for (std::size_t k = i + 1; k < end; ++k) {
      const int value = sextet(text[k]);
      if (value < 0) return fail(invalid());
      buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
      bits += 6;
      if (bits < 16) continue;
      bits -= 16;
      const std::uint32_t unit = (buffer >> bits) & 0xffff;
      buffer &= (1u << bits) - 1;
      if (high != 0) {
        if (unit < 0xdc00 || unit > 0xdfff) return fail(invalid());
        appendUtf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
        high = 0;
      } else if (unit >= 0xd800 && unit <= 0xdbff) {
        high = unit;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return fail(invalid());
      } else if (printableAscii(unit)) {
        return fail(invalid());  // must stand for itself
      } else {
        appendUtf8(out, unit);
      }
    }
    // Leftover bits must be fewer than a sextet's worth plus padding, and zero (RFC 3501 5.1.3
    // needs the shortest encoding).
    if (high != 0 || bits >= 6 || buffer != 0) return fail(invalid());
    i = end + 1;
    after_shift = true;
  }
  return out;
}

std::string encodeMutf7(std::string_view utf8) {
  std::string out;
  std::vector<std::uint16_t> units;
  std::size_t i = 0;
  while (i < utf8.size()) {
    const std::uint32_t code = nextCodePoint(utf8, i);
    if (printableAscii(code)) {
      if (!units.empty()) {
        flushBase64(out, units);
        units.clear();
      }
      out += static_cast<char>(code);
      if (code == '&') out += '-';
      continue;
    }
    if (code >= 0x10000) {
      units.push_back(static_cast<std::uint16_t>(0xd800 + ((code - 0x10000) >> 10)));
      units.push_back(static_cast<std::uint16_t>(0xdc00 + ((code - 0x10000) & 0x3ff)));
    } else {
      units.push_back(static_cast<std::uint16_t>(code));
    }
  }
  if (!units.empty()) flushBase64(out, units);
  return out;
}

Result<std::string, ParseError> checkUtf8Name(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    const std::uint32_t code = nextCodePoint(text, i);
    // U+FFFD stands for a malformed sequence unless the name spells it (EF BF BD) itself.
    if (code == 0xfffd && text.substr(start, i - start) != "\xef\xbf\xbd") {
      return fail(badSyntax("Mailbox name is not valid UTF-8"));
    }
    if (code < 0x20 || code == 0x7f || (code >= 0x80 && code < 0xa0)) {
      return fail(badSyntax("Mailbox name contains a control character"));
    }
  }
  return std::string(text);
}

}  // namespace popbridge::imap
