#include "protocols/imap/commands/thread.h"

#include <cctype>

namespace popbridge::imap {

Result<ThreadArgs, ParseError> parseThreadArgs(ArgParser& in, const Limits& limits) {
  ThreadArgs args;
  auto ok = in.sp();
  if (!ok) return fail(ok.error());
  auto algorithm = in.keyword();
  if (!algorithm) return fail(algorithm.error());
  if (*algorithm == "ORDEREDSUBJECT") {
    args.algorithm = ThreadAlgorithm::OrderedSubject;
  } else if (*algorithm == "REFERENCES") {
    args.algorithm = ThreadAlgorithm::References;
  } else {
    return fail(badSyntax("Unknown thread algorithm " + *algorithm));
  }
  ok = in.sp();
  if (!ok) return fail(ok.error());
  auto charset = in.astring();
  if (!charset) return fail(charset.error());
  for (char& c : *charset) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  args.charset = std::move(*charset);
  auto search = parseSearchArgs(in, limits);
  if (!search) return fail(std::move(search.error()));
  if (search->charset) return fail(badSyntax("THREAD takes its charset before the search keys"));
  args.search = std::move(*search);
  return args;
}

}  // namespace popbridge::imap
