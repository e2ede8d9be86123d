#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::proxy::config {

// Parses a configuration duration: one or more <digits><unit> groups with units ms, s, m, h, d,
// largest unit first and each unit at most once ("500ms", "30s", "5m", "1h30m"). A bare number
// is refused: a unit is always required so that "5" cannot silently mean 5 ms or 5 minutes.
// Returns the total, or an error message (without key or position) on malformed input or
// overflow. Pure function; any thread.
Result<std::chrono::milliseconds, std::string> parseDuration(std::string_view text);

// Formats a duration in the largest exact units ("5m", "1h30m", "1500ms", "0s"), so that
// parseDuration(formatDuration(d)) == d for every non-negative d (negative values print as
// "<n>ms" and do not parse back). Pure function; any thread.
std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace popbridge::proxy::config
