#include "protocols/imap/commands/store.h"

namespace popbridge::imap {

Result<StoreArgs, ParseError> parseStoreArgs(ArgParser& in) {
  StoreArgs args;
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
  if (in.consumeIf('(')) {
    auto modifier = in.keyword();
    if (!modifier) {
      return fail(modifier.error());
    }
    if (*modifier != "UNCHANGEDSINCE") {
      return fail(badSyntax("Unknown store modifier " + *modifier));
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto modseq = in.number64();  // RFC 7162 3.1.3: mod-sequence-valzer, 0 allowed
    if (!modseq) {
      return fail(modseq.error());
    }
    args.unchanged_since = *modseq;
    ok = in.expect(')', "')' after UNCHANGEDSINCE");
    if (!ok) {
      return fail(ok.error());
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  auto item = in.keyword();
  if (!item) {
    return fail(item.error());
  }
  std::string_view name = *item;
  if (name.starts_with('+')) {
    args.mode = StoreArgs::Mode::Add;
    name.remove_prefix(1);
  } else if (name.starts_with('-')) {
    args.mode = StoreArgs::Mode::Remove;
    name.remove_prefix(1);
  }
  if (name == "FLAGS.SILENT") {
    args.silent = true;
  } else if (name != "FLAGS") {
    return fail(badSyntax("Expected FLAGS, +FLAGS or -FLAGS"));
  }
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
  } else {
    do {
      auto flag = in.flag();
      if (!flag) {
        return fail(flag.error());
      }
      args.flags.push_back(std::move(*flag));
    } while (in.consumeIf(' ') && !in.atEnd());
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
