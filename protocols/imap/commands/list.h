#pragma once

#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/arg_parser.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// LIST and LSUB reference pattern (RFC 3501 6.3.8, 6.3.9), and for LIST the extended form of
// RFC 5258 (selection options, several patterns, return options) with RFC 6154 SPECIAL-USE and
// RFC 5819 RETURN (STATUS (...)).
// Reference and patterns arrive in modified UTF-7 and are held as UTF-8 (RFC 3501 5.1.3).
struct ListArgs {
  std::string reference;  // may be empty
  std::string pattern;    // the first or only pattern; may hold the wildcards '*' and '%'

  // The rest is set only by the extended form; all options are uppercased.
  std::vector<std::string> extra_patterns;       // "(p1 p2 p3)": p2 and p3
  std::vector<std::string> select_options;       // SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE
  std::vector<std::string> return_options;       // SUBSCRIBED CHILDREN SPECIAL-USE STATUS
  std::vector<std::string> return_status_items;  // for RETURN (STATUS (...)), as in STATUS
};

enum class ListSyntax {
  Basic,    // LSUB and XLIST, and LIST as in RFC 3501
  Extended  // LIST with RFC 5258 syntax allowed
};

// Parses " mailbox SP list-mailbox" and, for ListSyntax::Extended, " [(select-opts) SP] mailbox
// SP (list-mailbox / "(" list-mailbox *(SP list-mailbox) ")") [SP RETURN (return-opts)]". `in`
// is positioned right after the command name. Unknown options are a syntax error, and so is
// RECURSIVEMATCH without another selection option (RFC 5258 3.1).
Result<ListArgs, ParseError> parseListArgs(ArgParser& in, ListSyntax syntax);

}  // namespace popbridge::imap
