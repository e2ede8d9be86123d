#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/commands/search.h"
#include "protocols/imap/limits.h"
#include "protocols/imap/parse_error.h"
#include "protocols/imap/sort_keys.h"

namespace popbridge::imap {

// SORT sort-criteria SP search-criteria (RFC 5256 3, 5) and UID SORT.
struct SortArgs {
  std::optional<SearchReturn> returns;  // ESORT (RFC 5267 3): answered by ESEARCH
  std::vector<SortCriterion> criteria;  // at least one, in the order given
  std::string charset;                  // as sent, uppercased (mandatory in SORT)
  SearchArgs search;                    // search.charset is never set
};

// Parses ' [RETURN (return-opts) SP] (' ["REVERSE" SP] sort-key *(SP ["REVERSE" SP] sort-key) ')'
// SP charset 1*(SP search-key)'; `in` is positioned right after the command name. Sort keys and
// REVERSE in any case. The search keys go through parseSearchArgs (same limits, same tree); a
// "CHARSET" there is a syntax error since SORT names its charset itself. Pure; any thread.
Result<SortArgs, ParseError> parseSortArgs(ArgParser& in, const Limits& limits);

// "* SORT 5 3 4\r\n" (RFC 5256 4, sort-data) with the numbers in the order given; "* SORT\r\n"
// when there are none. With `modseq` and at least one number, " (MODSEQ n)" is added before
// the CRLF (RFC 7162 3.1.5). Appends to `out`. Pure; any thread.
void appendSortResponse(std::string& out, const std::vector<std::uint32_t>& numbers,
                        std::optional<std::uint64_t> modseq = std::nullopt);

}  // namespace popbridge::imap
