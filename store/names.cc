#include "store/names.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace popbridge::store {
namespace {

bool isControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// Well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF) without C1
// control characters (U+0080-U+009F).
bool validUtf8Text(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      code = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      code = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      code = lead & 0x07u;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xc0) != 0x80) return false;
      code = (code << 6) | (byte & 0x3fu);
    }
    const std::uint32_t minimum = length == 2 ? 0x80 : (length == 3 ? 0x800 : 0x10000);
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    if (code <= 0x9f) return false;  // C1 controls
    i += length;
  }
  return true;
}

Error invalid(std::string message) { return Error{ErrorCode::InvalidName, std::move(message)}; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Result<void> validateUserName(std::string_view name) {
  if (name.empty()) return fail(invalid("empty user name"));
  if (name.size() > kMaxUserNameBytes) return fail(invalid("user name too long"));
  if (name == "." || name == "..") return fail(invalid("user name is a path component"));
  for (char c : name) {
    if (c == '/') return fail(invalid("user name contains '/'"));
    if (isControl(c)) return fail(invalid("user name contains a control character"));
  }
  return {};
}

Result<std::string> canonicalMailboxName(std::string_view name) {
  if (name.empty()) return fail(invalid("empty mailbox name"));
  if (name.size() > kMaxMailboxNameBytes) return fail(invalid("mailbox name too long"));
  if (std::any_of(name.begin(), name.end(), isControl)) {
    return fail(invalid("mailbox name contains a control character"));
  }
  if (!validUtf8Text(name)) {
    return fail(invalid("mailbox name is not UTF-8 or contains a control character"));
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = name.find(kHierarchySeparator, start);
    const std::string_view component =
        name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (component.empty()) return fail(invalid("mailbox name has an empty level"));
    if (component == "." || component == "..") {
      return fail(invalid("mailbox name contains a '.' or '..' level"));
    }
    if (component.size() > kMaxMailboxComponentBytes) {
      return fail(invalid("mailbox name level too long"));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  std::string canonical(name);
  const std::size_t first_end = name.find(kHierarchySeparator);
  if (equalsIgnoreCase(name.substr(0, first_end), "INBOX")) canonical.replace(0, 5, "INBOX");
  return canonical;
}

Result<void> validateKeyword(std::string_view keyword) {
  if (keyword.empty()) return fail(invalid("empty keyword"));
  if (keyword.size() > 255) return fail(invalid("keyword too long"));
  if (keyword.front() == '\\') return fail(invalid("keyword starts with '\\'"));
  for (char c : keyword) {
    // RFC 9051 9: atom-specials are "(" ")" "{" SP CTL list-wildcards quoted-specials
    // resp-specials; ']' is allowed in atoms but not in flag keywords we can echo safely.
    if (isControl(c) || c == ' ' || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' ||
        c == '"' || c == '\\' || c == ']' || static_cast<unsigned char>(c) >= 0x80) {
      return fail(invalid("keyword contains a character not allowed in an atom"));
    }
  }
  return {};
}

}  // namespace popbridge::store
