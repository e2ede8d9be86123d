#pragma once

#include <optional>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE uid-set (RFC 4315 2.1).
struct ExpungeArgs {
  std::optional<SequenceSet> uids;  // set only for UID EXPUNGE
};

// Parses nothing (uid == false) or " sequence-set" (uid == true); `in` is positioned right
// after the command name.
Result<ExpungeArgs, ParseError> parseExpungeArgs(ArgParser& in, bool uid);

}  // namespace popbridge::imap
