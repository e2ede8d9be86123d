#include "protocols/imap/commands/append.h"

#include "protocols/imap/encoder.h"

namespace popbridge::imap {

Result<AppendArgs, ParseError> parseAppendArgs(ArgParser& in) {
  AppendArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mailbox = in.mailbox();
  if (!mailbox) {
    return fail(mailbox.error());
  }
  args.mailbox = std::move(*mailbox);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  if (in.peek() == '(') {
    auto flags = in.flagList();
    if (!flags) {
      return fail(flags.error());
    }
    args.flags = std::move(*flags);
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  if (in.peek() == '"' && !in.atLiteral()) {
    auto date = in.string();
    if (!date) {
      return fail(date.error());
    }
    // RFC 3501 6.3.11: an invalid date-time is a syntax error.
    auto parsed = parseDateTime(*date);
    if (!parsed) {
      return fail(parsed.error());
    }
    args.internal_date = std::move(*date);
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  if (!in.atLiteral()) {
    return fail(badSyntax("APPEND message must be a literal"));
  }
  auto message = in.string(Literal8::Allow, &args.binary);
  if (!message) {
    return fail(message.error());
  }
  args.message = std::move(*message);
  ok = in.end();
  if (!ok) {
    return fail(badSyntax("Unexpected data after the message (MULTIAPPEND is not supported)"));
  }
  return args;
}

}  // namespace popbridge::imap
