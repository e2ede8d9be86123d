#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// STORE sequence-set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags (RFC 3501 6.4.6,
// RFC 7162 3.1.3).
struct StoreArgs {
  SequenceSet set;
  enum class Mode { Replace, Add, Remove } mode = Mode::Replace;  // FLAGS / +FLAGS / -FLAGS
  bool silent = false;                                            // .SILENT
  std::vector<std::string> flags;  // as sent, e.g. "\\Seen", "$Forwarded"
  std::optional<std::uint64_t> unchanged_since;
};

// Parses " sequence-set [SP "(" UNCHANGEDSINCE mod-sequence ")"] SP store-att-flags"; `in` is
// positioned right after the command name. Both "(flag ...)" and bare "flag flag" are accepted.
Result<StoreArgs, ParseError> parseStoreArgs(ArgParser& in);

}  // namespace popbridge::imap
