#include "protocols/imap/sequence_set.h"

#include <algorithm>

namespace popbridge::imap {
namespace {

// One seq-number: nz-number or '*' (RFC 3501 9). Advances `pos` past it.
Result<std::uint32_t, ParseError> parseSeqNumber(std::string_view text, std::size_t& pos) {
  if (pos < text.size() && text[pos] == '*') {
    ++pos;
    return kStar;
  }
  if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
    return fail(badSyntax("Invalid sequence set: expected a number or '*'"));
  }
  if (text[pos] == '0') {
    return fail(badSyntax("Invalid sequence set: numbers start at 1"));
  }
  std::uint64_t value = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    value = value * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    if (value > 0xFFFFFFFFull) {
      return fail(badSyntax("Invalid sequence set: number too large"));
    }
    ++pos;
  }
  return static_cast<std::uint32_t>(value);
}

void appendSeqNumber(std::string& out, std::uint32_t n) {
  if (n == kStar) {
    out += '*';
  } else {
    out += std::to_string(n);
  }
}

}  // namespace

bool SequenceSet::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const SeqRange& range : ranges) {
    const std::uint32_t a = range.first == kStar ? largest : range.first;
    const std::uint32_t b = range.last == kStar ? largest : range.last;
    if (n >= std::min(a, b) && n <= std::max(a, b)) {
      return true;
    }
  }
  return false;
}

std::string SequenceSet::toString() const {
  if (saved) return "$";
  std::string out;
  for (const SeqRange& range : ranges) {
    if (!out.empty()) {
      out += ',';
    }
    appendSeqNumber(out, range.first);
    if (range.last != range.first) {
      out += ':';
      appendSeqNumber(out, range.last);
    }
  }
  return out;
}

Result<SequenceSet, ParseError> SequenceSet::parse(std::string_view text) {
  if (text.empty()) {
    return fail(badSyntax("Invalid sequence set: empty"));
  }
  SequenceSet set;
  if (text == "$") {
    set.saved = true;
    return set;
  }
  if (text.find('$') != std::string_view::npos) {
    return fail(badSyntax("Invalid sequence set: '$' must stand alone"));
  }
  std::size_t pos = 0;
  while (true) {
    auto first = parseSeqNumber(text, pos);
    if (!first) {
      return fail(first.error());
    }
    SeqRange range{*first, *first};
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      auto last = parseSeqNumber(text, pos);
      if (!last) {
        return fail(last.error());
      }
      range.last = *last;
    }
    set.ranges.push_back(range);
    if (pos == text.size()) {
      return set;
    }
    if (text[pos] != ',') {
      return fail(badSyntax("Invalid sequence set: unexpected character"));
    }
    ++pos;
  }
}

}  // namespace popbridge::imap
