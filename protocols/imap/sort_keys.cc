#include "protocols/imap/sort_keys.h"

#include <algorithm>
#include <array>
#include <optional>

#include "protocols/imap/base_subject.h"
#include "protocols/mailfile/date.h"
#include "protocols/mime/casemap.h"
#include "protocols/mime/decode.h"
#include "protocols/mime/rfc822.h"

namespace popbridge::imap {
namespace {

enum Field : std::uint8_t { kSubject, kDate, kFrom, kTo, kCc, kMessageId, kReferences, kInReplyTo };
constexpr std::array<std::string_view, 8> kFieldNames = {
    "subject", "date", "from", "to", "cc", "message-id", "references", "in-reply-to"};

// i;unicode-casemap (RFC 5256 3 and RFC 5051): octet order of the casemapped form.
std::string folded(std::string_view s) { return mime::casemapped(s); }

// The sort values of the first address of an address header: its mailbox (RFC 5256 3; for a
// group the group's name, as its start marker carries it) and its display value (RFC 5957 3).
void firstAddress(std::string_view value, std::string& mailbox, std::string& display) {
  const auto addresses = mime::rfc822::parseAddressList(value);
  if (addresses.empty()) return;
  const mime::Address& first = addresses.front();
  if (first.mailbox) mailbox = folded(*first.mailbox);
  if (first.name) {
    display = folded(mime::decodeEncodedWords(*first.name));
    if (!display.empty()) return;
  }
  if (first.mailbox && first.host) {
    display = folded(*first.mailbox + "@" + *first.host);
  } else {
    display = mailbox;
  }
}

}  // namespace

std::vector<std::string> messageIds(std::string_view value) {
  std::vector<std::string> ids;
  std::size_t i = 0;
  int comment = 0;
  while (i < value.size()) {
    const char c = value[i];
    if (comment > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++comment;
      } else if (c == ')') {
        --comment;
      }
      ++i;
      continue;
    }
    if (c == '(') {
      comment = 1;
      ++i;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    const std::size_t close = value.find('>', i + 1);
    if (close == std::string_view::npos) break;
    const std::string_view id = value.substr(i + 1, close - i - 1);
    const bool valid = !id.empty() && id.find_first_of(" \t\r\n<") == std::string_view::npos;
    if (valid) {
      ids.push_back("<" + std::string(id) + ">");
      i = close + 1;
    } else {
      ++i;
    }
  }
  return ids;
}

SortKeys sortKeys(std::string_view header, std::uint32_t number, std::int64_t arrival,
                  std::uint64_t size) {
  std::array<std::optional<std::string>, kFieldNames.size()> values;
  std::optional<std::size_t> current;  // index of the field the folded lines continue
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t eol = header.find('\n', pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header
    if (line[0] == ' ' || line[0] == '\t') {
      if (current) *values[*current] += line;  // unfolding (RFC 5322 2.2.3) keeps the WSP
      continue;
    }
    current.reset();
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    for (std::size_t f = 0; f < kFieldNames.size(); ++f) {
      if (!values[f] && mime::rfc822::iequals(name, kFieldNames[f])) {
        values[f] = std::string(line.substr(colon + 1));
        current = f;
        break;
      }
    }
  }

  SortKeys keys;
  keys.number = number;
  keys.arrival = arrival;
  keys.sent = arrival;
  keys.size = size;
  if (values[kSubject]) {
    keys.has_subject = true;
    BaseSubject base = baseSubject(*values[kSubject]);
    keys.subject = std::move(base.text);
    keys.reply_or_forward = base.reply_or_forward;
  }
  if (values[kDate]) {
    // RFC 5256 2.2: a missing or unparsable Date means INTERNALDATE; a date at the epoch counts
    // as none, as in Dovecot.
    const auto date = mailfile::parseRfc5322Date(*values[kDate]);
    if (date && date->seconds != 0) keys.sent = date->seconds;
  }
  if (values[kFrom]) firstAddress(*values[kFrom], keys.from, keys.display_from);
  if (values[kTo]) firstAddress(*values[kTo], keys.to, keys.display_to);
  std::string unused;
  if (values[kCc]) firstAddress(*values[kCc], keys.cc, unused);
  if (values[kMessageId]) {
    auto ids = messageIds(*values[kMessageId]);
    if (!ids.empty()) keys.message_id = std::move(ids.front());
  }
  if (values[kReferences]) keys.references = messageIds(*values[kReferences]);
  if (keys.references.empty() && values[kInReplyTo]) {
    auto ids = messageIds(*values[kInReplyTo]);
    if (!ids.empty()) keys.references.push_back(std::move(ids.front()));
  }
  return keys;
}

std::vector<std::uint32_t> sortNumbers(std::vector<SortKeys> messages,
                                       const std::vector<SortCriterion>& criteria) {
  auto compare = [](const SortKeys& a, const SortKeys& b, SortKey key) -> int {
    auto three = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
    switch (key) {
      case SortKey::Arrival:
        return three(a.arrival, b.arrival);
      case SortKey::Cc:
        return three(a.cc, b.cc);
      case SortKey::Date:
        return three(a.sent, b.sent);
      case SortKey::DisplayFrom:
        return three(a.display_from, b.display_from);
      case SortKey::DisplayTo:
        return three(a.display_to, b.display_to);
      case SortKey::From:
        return three(a.from, b.from);
      case SortKey::Size:
        return three(a.size, b.size);
      case SortKey::Subject:
        return three(a.subject, b.subject);
      case SortKey::To:
        return three(a.to, b.to);
    }
    return 0;
  };
  std::sort(messages.begin(), messages.end(), [&](const SortKeys& a, const SortKeys& b) {
    for (const SortCriterion& criterion : criteria) {
      int order = compare(a, b, criterion.key);
      if (criterion.reverse) order = -order;
      if (order != 0) return order < 0;
    }
    return a.number < b.number;
  });
  std::vector<std::uint32_t> numbers;
  numbers.reserve(messages.size());
  for (const SortKeys& m : messages) numbers.push_back(m.number);
  return numbers;
}

}  // namespace popbridge::imap
