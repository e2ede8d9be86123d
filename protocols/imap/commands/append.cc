#include "protocols/imap/commands/append.h"

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

// append-opts SP append-data (RFC 3502 6.3.11), after its leading SP.
Result<AppendMessage, ParseError> parseMessage(ArgParser& in) {
  AppendMessage message;
  if (in.peek() == '(') {
    auto flags = in.flagList();
    if (!flags) {
      return fail(flags.error());
    }
    message.flags = std::move(*flags);
    auto ok = in.sp();
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
    message.internal_date = std::move(*date);
    auto ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
  }
  // RFC 6855 4: append-data =/ "UTF8" SP "(" literal8 ")". A plain literal is taken too.
  if ((in.peek() == 'U' || in.peek() == 'u') && !in.atLiteral()) {
    auto word = in.keyword();
    if (!word) {
      return fail(word.error());
    }
    if (*word != "UTF8") {
      return fail(badSyntax("APPEND message must be a literal or UTF8 (literal8)"));
    }
    auto ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    ok = in.expect('(', "'(' after UTF8");
    if (!ok) {
      return fail(ok.error());
    }
    message.utf8 = true;
  }
  if (!in.atLiteral()) {
    return fail(badSyntax("APPEND message must be a literal"));
  }
  if (in.atStreamedLiteral()) {
    auto streamed = in.streamedLiteral(Literal8::Allow);
    if (!streamed) {
      return fail(streamed.error());
    }
    message.streamed = streamed->index;
    message.size = streamed->size;
    message.binary = streamed->binary;
  } else {
    auto data = in.string(Literal8::Allow, &message.binary);
    if (!data) {
      return fail(data.error());
    }
    message.message = std::move(*data);
    message.size = message.message.size();
  }
  if (message.utf8) {
    auto ok = in.expect(')', "')' after the UTF8 message");
    if (!ok) {
      return fail(ok.error());
    }
  }
  return message;
}

}  // namespace

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
  // The reader bounds the command's size, and with it the number of messages (STYLE.md 4.2).
  do {
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto message = parseMessage(in);
    if (!message) {
      return fail(message.error());
    }
    args.messages.push_back(std::move(*message));
  } while (!in.atEnd());
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
