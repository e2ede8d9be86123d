// libFuzzer target for the raw DEFLATE layer of COMPRESS=DEFLATE (proxy/core/deflate_stream).
//
// Properties checked (any violation aborts):
// - the Inflater never crashes on arbitrary input, each call adds at most max_out bytes, and
//   the same bytes give the same outcome and output whole and in random splits (STYLE.md 8.2);
// - Deflater -> Inflater round trips: data compressed in random pieces with sync flushes at
//   random points comes back byte for byte, and after each flush the inflater has produced
//   everything given so far (the peer is never left waiting for bytes in the compressor).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/core/deflate_stream.h"

namespace {

using popbridge::proxy::Deflater;
using popbridge::proxy::Inflater;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// Inflates `input` in pieces cut by `provider`; returns false if the inflater failed.
bool inflatePieces(std::string_view input, FuzzedDataProvider* provider, std::size_t max_out,
                   Inflater& inflater, std::string& out) {
  while (true) {
    std::size_t take = input.size();
    if (provider != nullptr && !input.empty()) {
      take = provider->ConsumeIntegralInRange<std::size_t>(1, input.size());
    }
    std::string_view piece = input.substr(0, take);
    input.remove_prefix(take);
    while (true) {
      const std::size_t before = out.size();
      auto used = inflater.inflate(piece, out, max_out);
      if (!used) {
        return false;
      }
      check(out.size() - before <= max_out);
      check(*used <= piece.size());
      piece.remove_prefix(*used);
      if (piece.empty() && out.size() - before < max_out) {
        break;
      }
    }
    if (input.empty()) {
      return true;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const bool round_trip = provider.ConsumeBool();
  const std::size_t max_out = provider.ConsumeIntegralInRange<std::size_t>(1, 70000);
  if (!round_trip) {
    const std::string input = provider.ConsumeRandomLengthString(1 << 16);
    Inflater whole;
    std::string whole_out;
    const bool whole_ok = inflatePieces(input, nullptr, max_out, whole, whole_out);
    Inflater split;
    std::string split_out;
    const bool split_ok = inflatePieces(input, &provider, max_out, split, split_out);
    check(whole_ok == split_ok);
    if (whole_ok) {
      check(whole_out == split_out);
    }
    return 0;
  }
  Deflater deflater;
  Inflater inflater;
  std::string given;
  std::string inflated;
  while (provider.remaining_bytes() > 0) {
    const std::string piece = provider.ConsumeRandomLengthString(4096);
    // Repetition makes back-references, also across flushes (and across released state).
    const int repeat = provider.ConsumeIntegralInRange<int>(1, 50);
    std::string wire;
    for (int i = 0; i < repeat; ++i) {
      check(static_cast<bool>(deflater.compress(piece, wire)));
      given += piece;
    }
    if (provider.ConsumeBool()) {
      deflater.flush(wire);
      check(!deflater.allocated());
      check(inflatePieces(wire, &provider, max_out, inflater, inflated));
      check(inflated == given);
    } else {
      check(inflatePieces(wire, &provider, max_out, inflater, inflated));
      check(given.compare(0, inflated.size(), inflated) == 0);
    }
  }
  std::string tail;
  deflater.flush(tail);
  check(inflatePieces(tail, &provider, max_out, inflater, inflated));
  check(inflated == given);
  return 0;
}
