#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace popbridge::mime {

// i;unicode-casemap (RFC 5051 2): the "titlecased canonicalized UTF-8" form of `text`, in which
// equality, substring and ordering are plain octet operations. Each code point is replaced by its
// titlecase and then by its canonical decomposition, repeatedly (table generated from Unicode
// 14.0 by scripts/gen_casemap.py); "é", "É" and "e\u0301" all become "E\u0301", "σ" and "ς"
// become "Σ". Bytes that are not valid UTF-8 are copied unchanged (RFC 5051: what cannot be
// converted is treated as binary). Appends to `out`. Pure; any thread.
void appendCasemapped(std::string_view text, std::string& out);
std::string casemapped(std::string_view text);

// True when `text` is ASCII only (the fast path: casemapping then only uppercases a-z).
bool isAscii(std::string_view text);

// The length of the longest prefix of `text` that does not end inside a UTF-8 sequence: a
// trailing lead byte and its continuation bytes, incomplete, are left out.
std::size_t completeUtf8Prefix(std::string_view text);

// The UTF-8 of each non-ASCII code point that casemaps to the ASCII character `c` alone: the
// dotless i for "I", the long s for "S", the Kelvin sign for "K", U+037E for ";" and U+1FEF for
// "`"; empty for any other. A needle's "I" can match text that holds a dotless i: a full-text
// index that folds case its own way is asked for these too.
std::vector<std::string> nonAsciiSourcesOf(char c);

// True when code point `cp` follows the first code point in some casemapping (a combining mark
// from a decomposition, or U+0399 from U+0345): text ending just before it may be part of one
// character.
bool isCasemapTrailing(char32_t cp);

// True when `text` starts with a valid UTF-8 code point for which isCasemapTrailing() holds.
bool startsWithCasemapTrailing(std::string_view text);

}  // namespace popbridge::mime
