#include "protocols/imap/commands/status.h"

#include <array>
#include <string_view>

namespace popbridge::imap {
namespace {

// DELETED and SIZE are RFC 9051 6.3.11 items; popbridge answers them for IMAP4rev1 clients too.
constexpr std::array<std::string_view, 10> kStatusItems = {
    "MESSAGES", "UIDNEXT",       "UIDVALIDITY", "UNSEEN",  "RECENT",
    "SIZE",     "HIGHESTMODSEQ", "APPENDLIMIT", "DELETED", "MAILBOXID"};

}  // namespace

bool isStatusItem(std::string_view item) {
  for (std::string_view known : kStatusItems) {
    if (item == known) {
      return true;
    }
  }
  return false;
}

Result<StatusArgs, ParseError> parseStatusArgs(ArgParser& in) {
  StatusArgs args;
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
  ok = in.expect('(', "'(' before status items");
  if (!ok) {
    return fail(ok.error());
  }
  while (true) {
    auto item = in.keyword();
    if (!item) {
      return fail(item.error());
    }
    if (!isStatusItem(*item)) {
      return fail(badSyntax("Unknown STATUS item " + *item));
    }
    args.items.push_back(std::move(*item));
    if (in.consumeIf(')')) {
      break;
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
