#pragma once

#include <cstdint>
#include <string>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/commands/search.h"
#include "protocols/imap/limits.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

enum class ThreadAlgorithm : std::uint8_t { OrderedSubject, References };

// THREAD thread-alg SP search-criteria (RFC 5256 4, 5) and UID THREAD.
struct ThreadArgs {
  ThreadAlgorithm algorithm = ThreadAlgorithm::References;
  std::string charset;  // as sent, uppercased
  SearchArgs search;    // search.charset is never set
};

// Parses ' thread-alg SP charset 1*(SP search-key)'; `in` is positioned right after the command
// name. The algorithm in any case; one popbridge does not implement is a syntax error (BAD, as
// Dovecot answers). Search keys as in parseSortArgs. Pure; any thread.
Result<ThreadArgs, ParseError> parseThreadArgs(ArgParser& in, const Limits& limits);

}  // namespace popbridge::imap
