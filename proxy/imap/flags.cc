#include "proxy/imap/flags.h"

#include <algorithm>
#include <array>
#include <utility>

namespace popbridge::proxy::imap {
namespace {

constexpr std::array<std::pair<store::SystemFlag, std::string_view>, 5> kSystemFlags{{
    {store::kAnswered, "\\Answered"},
    {store::kFlagged, "\\Flagged"},
    {store::kDeleted, "\\Deleted"},
    {store::kSeen, "\\Seen"},
    {store::kDraft, "\\Draft"},
}};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// RFC 3501 9: atom-char excludes "(){ %*\"\\]" and CTLs.
bool isAtom(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
           c != '"' && c != '\\' && c != ']';
  });
}

}  // namespace

void appendStoreFlags(std::string& out, const store::Flags& flags) {
  out.push_back('(');
  bool first = true;
  for (const auto& [bit, name] : kSystemFlags) {
    if ((flags.system & bit) == 0) continue;
    if (!first) out.push_back(' ');
    out.append(name);
    first = false;
  }
  for (const std::string& keyword : flags.keywords) {
    if (!first) out.push_back(' ');
    out.append(keyword);
    first = false;
  }
  out.push_back(')');
}

Result<store::Flags, std::string> parseFlags(const std::vector<std::string>& names) {
  store::Flags flags;
  for (const std::string& name : names) {
    if (!name.empty() && name[0] == '\\') {
      const auto it =
          std::find_if(kSystemFlags.begin(), kSystemFlags.end(),
                       [&](const auto& entry) { return equalsIgnoreCase(entry.second, name); });
      if (it == kSystemFlags.end()) {
        // \Recent is session state the server sets (RFC 3501 2.3.2); clients cannot store it.
        return fail("Cannot store flag " + name);
      }
      flags.system |= it->first;
      continue;
    }
    if (!isAtom(name)) return fail(std::string("Invalid keyword"));
    flags.keywords.push_back(name);
  }
  std::sort(flags.keywords.begin(), flags.keywords.end());
  flags.keywords.erase(std::unique(flags.keywords.begin(), flags.keywords.end()),
                       flags.keywords.end());
  return flags;
}

}  // namespace popbridge::proxy::imap
