#include "protocols/imap/commands/select.h"

namespace popbridge::imap {
namespace {

Result<QresyncParams, ParseError> parseQresync(ArgParser& in) {
  QresyncParams params;
  auto ok = in.expect('(', "'(' after QRESYNC");
  if (!ok) {
    return fail(ok.error());
  }
  auto uidvalidity = in.nzNumber();
  if (!uidvalidity) {
    return fail(uidvalidity.error());
  }
  params.uidvalidity = *uidvalidity;
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto modseq = in.number64();
  if (!modseq) {
    return fail(modseq.error());
  }
  if (*modseq == 0) {
    return fail(badSyntax("QRESYNC mod-sequence must be non-zero"));
  }
  params.modseq = *modseq;
  if (in.consumeIf(' ')) {
    if (in.peek() != '(') {
      auto uids = in.sequenceSet();
      if (!uids) {
        return fail(uids.error());
      }
      params.known_uids = std::move(*uids);
      if (!in.consumeIf(' ')) {
        return in.expect(')', "')' after QRESYNC parameters").map([&] { return params; });
      }
    }
    ok = in.expect('(', "'(' before seq-match-data");
    if (!ok) {
      return fail(ok.error());
    }
    auto seqs = in.sequenceSet();
    if (!seqs) {
      return fail(seqs.error());
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto uids = in.sequenceSet();
    if (!uids) {
      return fail(uids.error());
    }
    ok = in.expect(')', "')' after seq-match-data");
    if (!ok) {
      return fail(ok.error());
    }
    params.known_sequence_set = std::move(*seqs);
    params.known_uid_set = std::move(*uids);
  }
  ok = in.expect(')', "')' after QRESYNC parameters");
  if (!ok) {
    return fail(ok.error());
  }
  return params;
}

}  // namespace

Result<SelectArgs, ParseError> parseSelectArgs(ArgParser& in) {
  SelectArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mailbox = in.mailbox();
  if (!mailbox) {
    return fail(mailbox.error());
  }
  args.mailbox = std::move(*mailbox);
  if (in.consumeIf(' ') && !in.atEnd()) {
    ok = in.expect('(', "'(' before select parameters");
    if (!ok) {
      return fail(ok.error());
    }
    while (true) {
      auto name = in.keyword();
      if (!name) {
        return fail(name.error());
      }
      if (*name == "CONDSTORE") {
        args.condstore = true;
      } else if (*name == "QRESYNC") {
        if (args.qresync) {
          return fail(badSyntax("QRESYNC given twice"));
        }
        ok = in.sp();
        if (!ok) {
          return fail(ok.error());
        }
        auto qresync = parseQresync(in);
        if (!qresync) {
          return fail(qresync.error());
        }
        args.qresync = std::move(*qresync);
      } else {
        return fail(badSyntax("Unknown select parameter " + *name));
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
