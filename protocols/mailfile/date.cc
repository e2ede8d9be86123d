// Dates in message files: the mbox "From " line (asctime) and the Date: header (RFC 5322 3.3).

#include "protocols/mailfile/date.h"

#include <array>
#include <string>
#include <vector>

namespace popbridge::mailfile {
namespace {

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::int64_t kSecondsPerDay = 86400;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsLower(std::string_view token, std::string_view lower_word) {
  if (token.size() != lower_word.size()) return false;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (lower(token[i]) != lower_word[i]) return false;
  }
  return true;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// 1..12, or 0 when `token` is not a month name (three letters, any case).
unsigned monthOf(std::string_view token) {
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (equalsLower(token, kMonths[i])) return static_cast<unsigned>(i + 1);
  }
  return 0;
}

bool isDayName(std::string_view token) {
  for (std::string_view day : kDays) {
    if (equalsLower(token, day)) return true;
  }
  return false;
}

// All digits, 1..max_digits of them.
std::optional<unsigned> number(std::string_view token, std::size_t max_digits) {
  if (token.empty() || token.size() > max_digits) return std::nullopt;
  unsigned value = 0;
  for (char c : token) {
    if (!isDigit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

// "hh:mm" or "hh:mm:ss" -> seconds of the day.
std::optional<std::int64_t> timeOfDay(std::string_view token) {
  std::array<unsigned, 3> parts = {0, 0, 0};
  std::size_t count = 0;
  while (count < parts.size()) {
    const std::size_t colon = token.find(':');
    auto part = number(token.substr(0, colon), 2);
    if (!part) return std::nullopt;
    parts[count++] = *part;
    if (colon == std::string_view::npos) break;
    token.remove_prefix(colon + 1);
  }
  if (count < 2 || parts[0] > 23 || parts[1] > 59 || parts[2] > 60) return std::nullopt;
  return static_cast<std::int64_t>(parts[0]) * 3600 + parts[1] * 60 + parts[2];
}

// "+hhmm" / "-hhmm" -> minutes east of UTC.
std::optional<int> numericZone(std::string_view token) {
  if (token.size() != 5 || (token[0] != '+' && token[0] != '-')) return std::nullopt;
  auto hhmm = number(token.substr(1), 4);
  if (!hhmm) return std::nullopt;
  const auto minutes = static_cast<int>(*hhmm / 100 * 60 + *hhmm % 100);
  if (*hhmm % 100 > 59) return std::nullopt;
  return token[0] == '-' ? -minutes : minutes;
}

// RFC 5322 4.3 obs-zone: UT, GMT, the US zones and military letters (which 4.3 says to treat
// as -0000 because their sign was historically reversed). nullopt if not a known name.
std::optional<int> namedZone(std::string_view token) {
  struct Named {
    std::string_view name;
    int minutes;
  };
  static constexpr std::array<Named, 10> kNamed = {{{"ut", 0},
                                                    {"gmt", 0},
                                                    {"utc", 0},
                                                    {"est", -300},
                                                    {"edt", -240},
                                                    {"cst", -360},
                                                    {"cdt", -300},
                                                    {"mst", -420},
                                                    {"mdt", -360},
                                                    {"pst", -480}}};
  for (const Named& named : kNamed) {
    if (equalsLower(token, named.name)) return named.minutes;
  }
  if (equalsLower(token, "pdt")) return -420;
  if (token.size() == 1 && isAlpha(token[0])) return 0;
  return std::nullopt;
}

// Splits on white space and commas; drops (comments), which may nest (RFC 5322 3.2.2).
std::vector<std::string_view> tokens(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  int depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '(') {
      ++depth;
      ++i;
      continue;
    }
    if (depth > 0) {
      if (c == ')') --depth;
      if (c == '\\') ++i;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
           text[i] != '\n' && text[i] != ',' && text[i] != '(') {
      ++i;
    }
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<MailTime> compose(std::int64_t year, unsigned month, unsigned day,
                                std::int64_t seconds_of_day, int zone_minutes) {
  if (year < 1900 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31) {
    return std::nullopt;
  }
  const std::int64_t local = daysFromCivil(year, month, day) * kSecondsPerDay + seconds_of_day;
  return MailTime{local - static_cast<std::int64_t>(zone_minutes) * 60, zone_minutes};
}

}  // namespace

std::int64_t daysFromCivil(std::int64_t year, unsigned month, unsigned day) {
  // H. Hinnant's days_from_civil.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<MailTime> parseAsctimeDate(std::string_view text) {
  const std::vector<std::string_view> t = tokens(text);
  // Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]
  if (t.size() < 5 || !isDayName(t[0])) return std::nullopt;
  const unsigned month = monthOf(t[1]);
  const auto day = number(t[2], 2);
  const auto seconds = timeOfDay(t[3]);
  if (month == 0 || !day || !seconds) return std::nullopt;
  std::size_t i = 4;
  int zone = 0;
  if (auto z = numericZone(t[i])) {
    zone = *z;
    ++i;
  } else if (!number(t[i], 4) && isAlpha(t[i][0])) {
    ++i;  // a zone name such as "PST" or "CEST": not reliable, counts as UTC
  }
  if (i >= t.size()) return std::nullopt;
  const auto year = number(t[i], 4);
  if (!year || t[i].size() != 4) return std::nullopt;
  ++i;
  if (i < t.size()) {
    if (auto z = numericZone(t[i])) zone = *z;
  }
  return compose(*year, month, *day, *seconds, zone);
}

std::optional<MailTime> parseRfc5322Date(std::string_view text) {
  std::vector<std::string_view> t = tokens(text);
  std::size_t i = 0;
  if (i < t.size() && isDayName(t[i])) ++i;
  // day month year time [zone]
  if (t.size() < i + 4) return std::nullopt;
  const auto day = number(t[i], 2);
  const unsigned month = monthOf(t[i + 1]);
  auto year_digits = number(t[i + 2], 4);
  const auto seconds = timeOfDay(t[i + 3]);
  if (!day || month == 0 || !year_digits || !seconds) return std::nullopt;
  std::int64_t year = *year_digits;
  // RFC 5322 4.3: two-digit years 00-49 are 20xx, 50-99 19xx; three-digit ones add 1900.
  if (t[i + 2].size() == 2) {
    year += year < 50 ? 2000 : 1900;
  } else if (t[i + 2].size() == 3) {
    year += 1900;
  }
  int zone = 0;
  if (t.size() > i + 4) {
    if (auto z = numericZone(t[i + 4])) {
      zone = *z;
    } else if (auto n = namedZone(t[i + 4])) {
      zone = *n;
    }
  }
  return compose(year, month, *day, *seconds, zone);
}

}  // namespace popbridge::mailfile
