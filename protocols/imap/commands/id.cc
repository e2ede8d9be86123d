#include "protocols/imap/commands/id.h"

namespace popbridge::imap {
namespace {

// RFC 2971 3.3.
constexpr std::size_t kMaxPairs = 30;
constexpr std::size_t kMaxField = 30;
constexpr std::size_t kMaxValue = 1024;

}  // namespace

Result<IdArgs, ParseError> parseIdArgs(ArgParser& in) {
  IdArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  if (in.peek() != '(') {
    auto nil = in.keyword();
    if (!nil || *nil != "NIL") {
      return fail(badSyntax("Expected '(' or NIL"));
    }
    ok = in.end();
    if (!ok) {
      return fail(ok.error());
    }
    return args;
  }
  in.consumeIf('(');
  while (true) {
    auto field = in.string();
    if (!field) {
      return fail(field.error());
    }
    ok = in.sp();
    if (!ok) {
      return fail(ok.error());
    }
    auto value = in.nstring();
    if (!value) {
      return fail(value.error());
    }
    if (field->size() > kMaxField || (*value && (*value)->size() > kMaxValue)) {
      return fail(badSyntax("ID field or value too long"));
    }
    if (args.fields.size() == kMaxPairs) {
      return fail(badSyntax("Too many ID fields"));
    }
    args.fields.emplace_back(std::move(*field), value->value_or(std::string()));
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
