#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::proxy::config {

// Parses a configuration size: digits with an optional unit, K, M or G (binary: 1K = 1024
// bytes), optionally followed by "B" or "iB", any case ("512", "50M", "50MB", "2GiB", "100kb").
// Returns the size in bytes, or an error message (without key or position) on malformed input or
// overflow. Pure function; any thread.
Result<std::uint64_t, std::string> parseSize(std::string_view text);

}  // namespace popbridge::proxy::config
