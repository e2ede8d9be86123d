#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// The QRESYNC select parameter (RFC 7162 3.2.5).
struct QresyncParams {
  std::uint32_t uidvalidity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  // seq-match-data: known sequence numbers and the UIDs they correspond to.
  std::optional<SequenceSet> known_sequence_set;
  std::optional<SequenceSet> known_uid_set;
};

// SELECT and EXAMINE mailbox [(CONDSTORE) / (QRESYNC (...))] (RFC 3501 6.3.1, RFC 7162 3.1.8).
struct SelectArgs {
  std::string mailbox;
  bool condstore = false;  // "(CONDSTORE)" select parameter
  std::optional<QresyncParams> qresync;
};

// Parses " mailbox [SP "(" select-param *(SP select-param) ")"]"; `in` is positioned right
// after the command name. Unknown select parameters are a syntax error (RFC 4466 2.4).
Result<SelectArgs, ParseError> parseSelectArgs(ArgParser& in);

}  // namespace popbridge::imap
