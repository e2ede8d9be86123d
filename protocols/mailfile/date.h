#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace popbridge::mailfile {

// A point in time as a message file states it: unix seconds plus the zone it was written in.
struct MailTime {
  std::int64_t seconds = 0;   // unix seconds (UTC)
  int tz_offset_minutes = 0;  // east of UTC, e.g. +0200 -> 120
  bool operator==(const MailTime&) const = default;
};

// The date of an mbox "From " separator line, after the sender: asctime(3) form
// "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]" (the traditional UNIX mbox form; mutt and
// procmail also accept a zone between time and year or after the year). A numeric zone
// "+hhmm"/"-hhmm" is applied; named or absent zones count as UTC, since the line carries no
// reliable zone. nullopt if `text` does not start with such a date. Pure; any thread.
std::optional<MailTime> parseAsctimeDate(std::string_view text);

// A Date: header field body (RFC 5322 3.3 date-time, with the obsolete forms of 4.3: optional
// day of week, two- and three-digit years, named zones such as GMT, EST, UT and military
// letters, comments and extra white space). nullopt if it does not parse or is out of range.
// Pure; any thread.
std::optional<MailTime> parseRfc5322Date(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date; month 1..12, day 1..31. Pure.
std::int64_t daysFromCivil(std::int64_t year, unsigned month, unsigned day);

}  // namespace popbridge::mailfile
