#include "proxy/config/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace popbridge::proxy::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t millis;
};

// Ordered largest first: the order a duration must be written in. "ms" precedes "m" only in the
// suffix match below, never in this order check.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 24LL * 60 * 60 * 1000},
    {"h", 60LL * 60 * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

Result<std::chrono::milliseconds, std::string> parseDuration(std::string_view text) {
  if (text.empty()) {
    return fail(std::string("empty duration; write e.g. 500ms, 30s, 5m or 1h"));
  }
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t last_unit = 0;  // index into kUnits + 1 of the previous group's unit; 0 = none yet
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] < '0' || text[pos] > '9') {
      return fail("invalid duration " + quoted(text) + ": expected a number at \"" +
                  std::string(text.substr(pos)) + "\"");
    }
    std::int64_t number = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const auto digit = static_cast<std::int64_t>(text[pos] - '0');
      if (number > (kMax - digit) / 10) {
        return fail("duration " + quoted(text) + " is too large");
      }
      number = number * 10 + digit;
      ++pos;
    }
    std::size_t unit_end = pos;
    while (unit_end < text.size() && (text[unit_end] < '0' || text[unit_end] > '9')) {
      ++unit_end;
    }
    const std::string_view suffix = text.substr(pos, unit_end - pos);
    if (suffix.empty()) {
      return fail("duration " + quoted(text) + " needs a unit (ms, s, m, h or d), e.g. 30s");
    }
    std::size_t unit_index = kUnits.size();
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].suffix == suffix) {
        unit_index = i;
      }
    }
    if (unit_index == kUnits.size()) {
      return fail("invalid duration " + quoted(text) + ": unknown unit " + quoted(suffix) +
                  " (use ms, s, m, h or d)");
    }
    if (unit_index + 1 <= last_unit) {
      return fail("invalid duration " + quoted(text) +
                  ": write units largest first and each once, e.g. 1h30m");
    }
    last_unit = unit_index + 1;
    const std::int64_t scale = kUnits[unit_index].millis;
    if (number > kMax / scale || total > kMax - number * scale) {
      return fail("duration " + quoted(text) + " is too large");
    }
    total += number * scale;
    pos = unit_end;
  }
  return std::chrono::milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds duration) {
  std::int64_t rest = duration.count();
  if (rest < 0) {
    // Never produced by parseDuration; shown plainly rather than negated (which could overflow).
    return std::to_string(rest) + "ms";
  }
  if (rest == 0) {
    return "0s";
  }
  std::string out;
  for (const Unit& unit : kUnits) {
    const std::int64_t count = rest / unit.millis;
    if (count > 0) {
      out += std::to_string(count);
      out += unit.suffix;
      rest -= count * unit.millis;
    }
  }
  return out;
}

}  // namespace popbridge::proxy::config
