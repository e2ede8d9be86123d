// INTERNALDATE formatting and APPEND date-time parsing (RFC 3501 9, date-time).

#include <algorithm>
#include <array>
#include <cctype>

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr std::int64_t kSecondsPerDay = 86400;
// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range of date-year (4DIGIT).
constexpr std::int64_t kMinSeconds = -62167219200;
constexpr std::int64_t kMaxSeconds = 253402300799;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

Civil civilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2 ? 1 : 0), m, d};
}

bool isLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(std::int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

void appendDigits(std::string& out, std::int64_t value, int width) {
  std::string digits = std::to_string(value);
  for (auto i = static_cast<int>(digits.size()); i < width; ++i) {
    out += '0';
  }
  out += digits;
}

// Reads exactly `count` digits at text[pos].
bool readDigits(std::string_view text, std::size_t& pos, std::size_t count, int& value) {
  if (pos + count > text.size()) {
    return false;
  }
  value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool readChar(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

void appendDateTime(std::string& out, std::int64_t unix_seconds, int tz_offset_minutes) {
  if (tz_offset_minutes <= -24 * 60 || tz_offset_minutes >= 24 * 60) {
    tz_offset_minutes = 0;
  }
  std::int64_t local = unix_seconds + static_cast<std::int64_t>(tz_offset_minutes) * 60;
  local = std::min(std::max(local, kMinSeconds), kMaxSeconds);
  std::int64_t days = local / kSecondsPerDay;
  std::int64_t seconds = local % kSecondsPerDay;
  if (seconds < 0) {
    seconds += kSecondsPerDay;
    --days;
  }
  const Civil date = civilFromDays(days);
  out += '"';
  if (date.day < 10) {
    out += ' ';  // date-day-fixed = (SP DIGIT) / 2DIGIT
  }
  out += std::to_string(date.day);
  out += '-';
  out += kMonths[date.month - 1];
  out += '-';
  appendDigits(out, date.year, 4);
  out += ' ';
  appendDigits(out, seconds / 3600, 2);
  out += ':';
  appendDigits(out, seconds / 60 % 60, 2);
  out += ':';
  appendDigits(out, seconds % 60, 2);
  out += ' ';
  out += tz_offset_minutes < 0 ? '-' : '+';
  const int magnitude = tz_offset_minutes < 0 ? -tz_offset_minutes : tz_offset_minutes;
  appendDigits(out, magnitude / 60, 2);
  appendDigits(out, magnitude % 60, 2);
  out += '"';
}

Result<std::pair<std::int64_t, int>, ParseError> parseDateTime(std::string_view text) {
  const auto invalid = [] { return fail(badSyntax("Invalid date-time")); };
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  std::size_t pos = 0;
  readChar(text, pos, ' ');
  int day = 0;
  if (!readDigits(text, pos, 2, day)) {
    pos = text.size() > 0 && text[0] == ' ' ? 1 : 0;
    if (!readDigits(text, pos, 1, day)) {
      return invalid();
    }
  }
  if (!readChar(text, pos, '-') || pos + 3 > text.size()) {
    return invalid();
  }
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m) {
    bool same = true;
    for (std::size_t i = 0; i < 3; ++i) {
      if (std::tolower(static_cast<unsigned char>(text[pos + i])) !=
          std::tolower(static_cast<unsigned char>(kMonths[m][i]))) {
        same = false;
        break;
      }
    }
    if (same) {
      month = m + 1;
      break;
    }
  }
  pos += 3;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int zone_hours = 0;
  int zone_minutes = 0;
  if (month == 0 || !readChar(text, pos, '-') || !readDigits(text, pos, 4, year) ||
      !readChar(text, pos, ' ') || !readDigits(text, pos, 2, hour) || !readChar(text, pos, ':') ||
      !readDigits(text, pos, 2, minute) || !readChar(text, pos, ':') ||
      !readDigits(text, pos, 2, second) || !readChar(text, pos, ' ') || pos >= text.size()) {
    return invalid();
  }
  const char sign = text[pos++];
  if ((sign != '+' && sign != '-') || !readDigits(text, pos, 2, zone_hours) ||
      !readDigits(text, pos, 2, zone_minutes) || pos != text.size()) {
    return invalid();
  }
  // A leap second (60) is accepted and lands on the next minute's first second.
  if (day < 1 || static_cast<unsigned>(day) > daysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60 || zone_minutes > 59) {
    return invalid();
  }
  const int offset = (sign == '-' ? -1 : 1) * (zone_hours * 60 + zone_minutes);
  const std::int64_t local =
      daysFromCivil(year, month, static_cast<unsigned>(day)) * kSecondsPerDay + hour * 3600 +
      minute * 60 + second;
  return std::pair<std::int64_t, int>(local - static_cast<std::int64_t>(offset) * 60, offset);
}

}  // namespace popbridge::imap
