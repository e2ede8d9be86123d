// libFuzzer target for FETCH BINARY's transfer decoders (quoted-printable and base64,
// protocols/mime/decode.h).
//
// Properties checked (any violation aborts):
// - fed whole, the table-driven decoders give exactly the bytes of the straightforward
//   byte-at-a-time reference decoders (tests/protocols/mime/reference_decode.h);
// - fed in chunks of a size and at cut points chosen by the input, they give the same bytes;
// - the output is never longer than the input (quoted-printable) or than 3/4 of it (base64).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/mime/decode.h"
#include "tests/protocols/mime/reference_decode.h"

namespace {

using namespace popbridge::mime;

void check(bool ok) {
  if (!ok) std::abort();
}

template <class Decoder>
std::string decodeChunks(std::string_view input, std::size_t size, std::size_t first_cut) {
  Decoder decoder;
  std::string out;
  const std::size_t cut = input.empty() ? 0 : first_cut % (input.size() + 1);
  decoder.feed(input.substr(0, cut), out);
  for (std::size_t pos = cut; pos < input.size(); pos += size) {
    decoder.feed(input.substr(pos, size), out);
  }
  decoder.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const std::size_t chunk = provider.ConsumeIntegralInRange<std::size_t>(1, 4096);
  const std::size_t first_cut = provider.ConsumeIntegral<std::uint16_t>();
  const std::string input = provider.ConsumeRemainingBytesAsString();

  const std::string qp = decodeChunks<QuotedPrintableDecoder>(input, input.size() + 1, 0);
  check(qp == testing::referenceQp(input));
  check(qp.size() <= input.size());
  check(decodeChunks<QuotedPrintableDecoder>(input, chunk, first_cut) == qp);

  const std::string b64 = decodeChunks<Base64Decoder>(input, input.size() + 1, 0);
  check(b64 == testing::referenceBase64(input));
  check(b64.size() <= input.size() / 4 * 3 + 2);
  check(decodeChunks<Base64Decoder>(input, chunk, first_cut) == b64);
  return 0;
}
