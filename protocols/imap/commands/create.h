#pragma once

#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// CREATE, DELETE, SUBSCRIBE and UNSUBSCRIBE mailbox (RFC 3501 6.3.3-6.3.7), and CREATE's
// USE parameter (RFC 6154 5).
struct CreateArgs {
  std::string mailbox;
  std::vector<std::string> use;  // special-use attributes as sent ("\Drafts"), CREATE only
};

enum class CreateSyntax {
  NameOnly,   // DELETE, SUBSCRIBE, UNSUBSCRIBE
  WithParams  // CREATE: [SP "(" create-param *(SP create-param) ")"] (RFC 4466 2.2)
};

// Parses " mailbox" and, for CreateSyntax::WithParams, the optional parameter list, of which
// only "USE (" [use-attr *(SP use-attr)] ")" is known (RFC 6154 6); any other parameter is a
// syntax error. `in` is positioned right after the command name.
Result<CreateArgs, ParseError> parseCreateArgs(ArgParser& in, CreateSyntax syntax);

}  // namespace popbridge::imap
