// libFuzzer target for i;unicode-casemap (protocols/mime/casemap.h) on arbitrary bytes.
//
// Properties checked (any violation aborts):
// - casemapping is idempotent;
// - text split where completeUtf8Prefix() allows casemaps to the two halves' casemappings
//   joined (what store/search.cc's chunked and streamed matching relies on);
// - the input is at most 3 times as long as its casemapping (store/search.cc's chunk overlap);
// - ASCII input is only uppercased.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/mime/casemap.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popbridge::mime;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string folded = casemapped(text);
  check(casemapped(folded) == folded);
  check(text.size() <= 3 * folded.size());
  if (size > 0) {
    const std::size_t split = completeUtf8Prefix(text.substr(0, data[0] % (size + 1)));
    std::string joined = casemapped(text.substr(0, split));
    appendCasemapped(text.substr(split), joined);
    check(joined == folded);
  }
  if (isAscii(text)) {
    check(folded.size() == text.size());
    for (std::size_t i = 0; i < size; ++i) {
      const char c = text[i];
      check(folded[i] == (c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c));
    }
  }
  return 0;
}
