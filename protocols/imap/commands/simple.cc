#include "protocols/imap/commands/simple.h"

namespace popbridge::imap {

Result<NoArgs, ParseError> parseNoArgs(ArgParser& in) {
  auto done = in.end();
  if (!done) {
    return fail(badSyntax("This command takes no arguments"));
  }
  return NoArgs{};
}

}  // namespace popbridge::imap
