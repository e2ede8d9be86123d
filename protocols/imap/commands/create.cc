#include "protocols/imap/commands/create.h"

namespace popbridge::imap {

Result<CreateArgs, ParseError> parseCreateArgs(ArgParser& in) {
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mailbox = in.mailbox();
  if (!mailbox) {
    return fail(mailbox.error());
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return CreateArgs{std::move(*mailbox)};
}

}  // namespace popbridge::imap
