#include "protocols/imap/commands/expunge.h"

namespace popbridge::imap {

Result<ExpungeArgs, ParseError> parseExpungeArgs(ArgParser& in, bool uid) {
  ExpungeArgs args;
  if (uid) {
    auto ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto set = in.sequenceSet();
    if (!set) {
      return fail(set.error());
    }
    args.uids = std::move(*set);
  }
  auto ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
