#pragma once

#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "store/types.h"

namespace popbridge::proxy::imap {

// Appends the IMAP flag list for `flags`: "(\Seen \Flagged $Label)".
void appendStoreFlags(std::string& out, const store::Flags& flags);

// Converts client flag names (RFC 3501 2.3.2) to store flags. System flags match
// case-insensitively; \Recent and unknown backslash flags are refused; keywords must be atoms.
Result<store::Flags, std::string> parseFlags(const std::vector<std::string>& names);

// The flags a new mailbox's FLAGS/PERMANENTFLAGS responses list.
inline constexpr const char* kSystemFlagList = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";

}  // namespace popbridge::proxy::imap
