#include "protocols/imap/commands/create.h"

namespace popbridge::imap {

Result<CreateArgs, ParseError> parseCreateArgs(ArgParser& in, CreateSyntax syntax) {
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mailbox = in.mailbox();
  if (!mailbox) {
    return fail(mailbox.error());
  }
  CreateArgs args{std::move(*mailbox), {}};
  if (syntax == CreateSyntax::WithParams && in.consumeIf(' ') && !in.atEnd()) {
    ok = in.expect('(', "'(' before CREATE parameters");
    if (!ok) {
      return fail(ok.error());
    }
    bool seen_use = false;
    while (true) {
      auto param = in.keyword();
      if (!param) {
        return fail(param.error());
      }
      if (*param != "USE" || seen_use) {
        return fail(badSyntax("Unknown or repeated CREATE parameter " + *param));
      }
      seen_use = true;
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
      // RFC 6154 6: use-attr is a flag-like "\" atom.
      ok = in.expect('(', "'(' before special-use attributes");
      if (!ok) {
        return fail(ok.error());
      }
      while (!in.consumeIf(')')) {
        if (!args.use.empty()) {
          ok = in.sp();
          if (!ok) {
            return fail(ok.error());
          }
        }
        if (in.peek() != '\\') {
          return fail(badSyntax("Expected a special-use attribute"));
        }
        auto attribute = in.flag();
        if (!attribute) {
          return fail(attribute.error());
        }
        args.use.push_back(std::move(*attribute));
      }
      if (in.consumeIf(')')) {
        break;
      }
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
    }
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
