#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace popbridge::proxy::config {

// True when `a` and `b` are equal ignoring ASCII letter case. Pure; any thread.
bool equalsIgnoringAsciiCase(std::string_view a, std::string_view b);

// Optimal string alignment distance between `a` and `b`: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1 ("tsl" -> "tls" is 1). ASCII case-sensitive.
// Pure; any thread.
std::size_t editDistance(std::string_view a, std::string_view b);

// The entry of `known` that `word` is most likely a typo of, or nullopt when none is close
// enough: a case-insensitive match, or the smallest edit distance if it is at most 2 and smaller
// than half of `word`'s length (so short words do not "match" anything). The returned view
// borrows from `known`. Pure; any thread.
std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> known);

}  // namespace popbridge::proxy::config
