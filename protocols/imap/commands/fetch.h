#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/fetch_att.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sequence_set.h"

namespace popbridge::imap {

// FETCH sequence-set items [modifiers] (RFC 3501 6.4.5, RFC 7162 3.1.4 / 3.2.6).
struct FetchArgs {
  SequenceSet set;
  std::vector<FetchAtt> atts;                  // ALL/FAST/FULL macros expanded
  std::optional<std::uint64_t> changed_since;  // CHANGEDSINCE modifier (CONDSTORE)
  bool vanished = false;                       // VANISHED modifier (QRESYNC, UID FETCH only)
};

// Parses " sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP
// fetch-att) ")") [SP "(" fetch-modifier *(SP fetch-modifier) ")"]"; `in` is positioned right
// after the command name.
Result<FetchArgs, ParseError> parseFetchArgs(ArgParser& in);

// Parses one fetch-att at the cursor (e.g. "BODY.PEEK[1.HEADER.FIELDS (From)]<0.100>").
Result<FetchAtt, ParseError> parseFetchAtt(ArgParser& in);

}  // namespace popbridge::imap
