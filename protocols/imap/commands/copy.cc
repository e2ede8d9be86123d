#include "protocols/imap/commands/copy.h"

namespace popbridge::imap {

Result<CopyArgs, ParseError> parseCopyArgs(ArgParser& in) {
  CopyArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto set = in.sequenceSet();
  if (!set) {
    return fail(set.error());
  }
  args.set = std::move(*set);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mailbox = in.mailbox();
  if (!mailbox) {
    return fail(mailbox.error());
  }
  args.mailbox = std::move(*mailbox);
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
