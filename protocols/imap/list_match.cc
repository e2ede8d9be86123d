// LIST pattern matching (RFC 3501 6.3.8) as a set-of-states automaton: no recursion and no
// exponential backtracking on patterns like "*a*a*a*b".

#include <algorithm>
#include <cctype>
#include <vector>

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

// Length of the leading "INBOX" of `name` that compares case-insensitively: 5 when the name is
// INBOX in any case or starts with "INBOX<delimiter>", else 0 (RFC 3501 5.1).
std::size_t inboxPrefix(std::string_view name, char delimiter) {
  if (name.size() < 5 || (name.size() > 5 && name[5] != delimiter)) {
    return 0;
  }
  for (std::size_t i = 0; i < 5; ++i) {
    if (std::toupper(static_cast<unsigned char>(name[i])) != "INBOX"[i]) {
      return 0;
    }
  }
  return 5;
}

bool sameChar(char pattern_char, char name_char, bool fold) {
  if (fold) {
    return std::toupper(static_cast<unsigned char>(pattern_char)) ==
           std::toupper(static_cast<unsigned char>(name_char));
  }
  return pattern_char == name_char;
}

}  // namespace

bool listMatch(std::string_view pattern, std::string_view name, char delimiter) {
  const std::size_t m = pattern.size();
  const std::size_t fold_until = inboxPrefix(name, delimiter);
  // active[i]: the first i pattern bytes can match the name bytes read so far.
  std::vector<char> active(m + 1, 0);
  std::vector<char> next(m + 1, 0);
  const auto closure = [&](std::vector<char>& states) {
    // A wildcard may match nothing, so reaching it also reaches what follows it.
    for (std::size_t i = 0; i < m; ++i) {
      if (states[i] && (pattern[i] == '*' || pattern[i] == '%')) {
        states[i + 1] = 1;
      }
    }
  };
  active[0] = 1;
  closure(active);
  for (std::size_t k = 0; k < name.size(); ++k) {
    const char c = name[k];
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < m; ++i) {
      if (!active[i]) {
        continue;
      }
      const char p = pattern[i];
      if (p == '*' || (p == '%' && c != delimiter)) {
        next[i] = 1;
        any = true;
      } else if (p != '*' && p != '%' && sameChar(p, c, k < fold_until)) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) {
      return false;
    }
    closure(next);
    active.swap(next);
  }
  return active[m] != 0;
}

}  // namespace popbridge::imap
