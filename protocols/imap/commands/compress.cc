#include "protocols/imap/commands/compress.h"

namespace popbridge::imap {

Result<CompressArgs, ParseError> parseCompressArgs(ArgParser& in) {
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto mechanism = in.keyword();
  if (!mechanism) {
    return fail(mechanism.error());
  }
  if (auto done = in.end(); !done) {
    return fail(badSyntax("COMPRESS takes one mechanism"));
  }
  return CompressArgs{std::move(*mechanism)};
}

}  // namespace popbridge::imap
