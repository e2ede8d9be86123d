#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "store/error.h"

namespace popbridge::store {

inline constexpr char kHierarchySeparator = '/';
inline constexpr std::size_t kMaxUserNameBytes = 255;
inline constexpr std::size_t kMaxMailboxNameBytes = 1024;
inline constexpr std::size_t kMaxMailboxComponentBytes = 255;

// Checks a user name, which becomes a directory name: not empty, at most kMaxUserNameBytes, no '/',
// no control characters, not "." or "..". Returns InvalidName with a reason otherwise.
// Pure function; any thread.
Result<void> validateUserName(std::string_view name);

// Validates a mailbox name and returns its canonical spelling: well-formed UTF-8 (the store keeps
// names in UTF-8; IMAP's modified UTF-7 is converted in protocols/), components separated by '/',
// none empty, "." or "..", no C0 or C1 control characters, bounded length. A first component equal
// to "INBOX" in any case is spelled "INBOX" (RFC 9051 5.1: INBOX is case-insensitive). Other names
// are case-sensitive. Returns InvalidName otherwise. Pure function; any thread.
Result<std::string> canonicalMailboxName(std::string_view name);

// Validates a keyword (RFC 9051 flag-keyword is an atom): not empty, at most 255 bytes, no
// space, control character, '\' prefix or atom-special character. Pure function; any thread.
Result<void> validateKeyword(std::string_view keyword);

}  // namespace popbridge::store
