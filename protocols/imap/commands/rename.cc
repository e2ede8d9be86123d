#include "protocols/imap/commands/rename.h"

namespace popbridge::imap {

Result<RenameArgs, ParseError> parseRenameArgs(ArgParser& in) {
  RenameArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto from = in.mailbox();
  if (!from) {
    return fail(from.error());
  }
  args.from = std::move(*from);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto to = in.mailbox();
  if (!to) {
    return fail(to.error());
  }
  args.to = std::move(*to);
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
