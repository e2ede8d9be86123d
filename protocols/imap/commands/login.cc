#include "protocols/imap/commands/login.h"

namespace popbridge::imap {

Result<LoginArgs, ParseError> parseLoginArgs(ArgParser& in) {
  LoginArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto user = in.astring();
  if (!user) {
    return fail(user.error());
  }
  args.user = std::move(*user);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto password = in.astring();
  if (!password) {
    return fail(password.error());
  }
  args.password = std::move(*password);
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
