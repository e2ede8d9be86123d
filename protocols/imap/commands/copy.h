#pragma once

#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// COPY and MOVE sequence-set mailbox (RFC 3501 6.4.7, RFC 6851 3).
struct CopyArgs {
  SequenceSet set;
  std::string mailbox;
};

// Parses " sequence-set SP mailbox"; `in` is positioned right after the command name.
Result<CopyArgs, ParseError> parseCopyArgs(ArgParser& in);

}  // namespace popbridge::imap
