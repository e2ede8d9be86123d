// libFuzzer target for the MIME parser, encoders, section lookup and serialization.
//
// Properties checked (any violation aborts):
// - the parser never crashes, and the same bytes give the same Message whole and in random
//   splits (STYLE.md 8.2);
// - every part's ranges lie inside the message and inside its parent's body, children in order;
// - BODY and BODYSTRUCTURE are balanced parenthesized lists;
// - serialize/deserialize round trips (parse-encode-parse), and deserialize of the raw input
//   (as if it were a corrupt blob) never crashes;
// - FETCH BINARY's transfer decoding of each leaf gives the same bytes whole and split, and
//   never more bytes than the encoded body.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/decode.h"
#include "protocols/mime/imap_encode.h"
#include "protocols/mime/parser.h"
#include "protocols/mime/section.h"
#include "protocols/mime/serialize.h"

namespace {

using namespace popbridge::mime;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkRanges(const Message& m) {
  check(!m.parts.empty());
  for (std::size_t i = 0; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    check(p.body_offset == p.header_offset + p.header_length);
    check(p.body_offset + p.body_length <= m.size);
    check(p.body_octets >= p.body_length);
    std::uint64_t prev_end = p.body_offset;
    for (std::uint32_t c : p.children) {
      check(c > i && c < m.parts.size() && m.parts[c].parent == i);
      const Part& q = m.parts[c];
      check(q.header_offset >= prev_end);
      prev_end = q.body_offset + q.body_length;
      check(prev_end <= p.body_offset + p.body_length);
    }
    if (p.kind == PartKind::Message) check(p.children.size() == 1);
    if (p.kind == PartKind::Leaf) check(p.children.empty());
  }
}

// Parentheses balance outside quoted strings and literals.
void checkBalanced(const std::string& s) {
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
      }
    } else if (c == '{') {
      std::size_t close = s.find("}\r\n", i);
      check(close != std::string::npos);
      std::size_t n = std::stoul(s.substr(i + 1, close - i - 1));
      i = close + 2 + n;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      check(--depth >= 0);
    }
  }
  check(depth == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  Limits limits;
  limits.max_depth = fdp.ConsumeIntegralInRange<std::uint32_t>(1, 40);
  limits.max_parts = fdp.ConsumeIntegralInRange<std::uint32_t>(1, 300);
  limits.max_header_bytes = fdp.ConsumeIntegralInRange<std::size_t>(0, 4096);
  std::string input = fdp.ConsumeRemainingBytesAsString();

  Parser whole(limits);
  whole.feed(input);
  Message m = whole.finish();
  check(m.size == input.size());
  checkRanges(m);

  // Same bytes, chunks cut at pseudo-random places derived from the input.
  Parser split(limits);
  std::size_t pos = 0;
  std::uint32_t seed = static_cast<std::uint32_t>(input.size()) * 2654435761u;
  while (pos < input.size()) {
    seed = seed * 1103515245u + 12345u;
    std::size_t n = 1 + (seed >> 16) % 97;
    split.feed(std::string_view(input).substr(pos, n));
    pos += n;
  }
  check(split.finish() == m);

  std::string out;
  appendBodyStructure(out, m, Extended::Yes);
  checkBalanced(out);
  out.clear();
  appendBodyStructure(out, m, Extended::No);
  checkBalanced(out);
  out.clear();
  appendEnvelope(out, m);
  checkBalanced(out);

  auto back = deserialize(serialize(m));
  check(back.has_value() && *back == m);
  (void)deserialize(input);

  for (const Part& part : m.parts) {
    const auto encoding = transferEncodingOf(part);
    if (part.kind != PartKind::Leaf || !encoding) continue;
    const std::string_view body =
        std::string_view(input).substr(part.body_offset, part.body_length);
    std::string decoded_whole;
    TransferDecoder whole_decoder(*encoding);
    whole_decoder.feed(body, decoded_whole);
    whole_decoder.finish(decoded_whole);
    check(decoded_whole.size() <= body.size());
    std::string decoded_split;
    TransferDecoder split_decoder(*encoding);
    const std::size_t cut = body.empty() ? 0 : seed % (body.size() + 1);
    split_decoder.feed(body.substr(0, cut), decoded_split);
    split_decoder.feed(body.substr(cut), decoded_split);
    split_decoder.finish(decoded_split);
    check(decoded_split == decoded_whole);
  }

  for (const char* path : {"1", "1.1", "2", "1.2.3", "2.1"}) {
    auto p = parseSectionPath(path);
    check(p.has_value());
    for (SectionText t :
         {SectionText::Body, SectionText::Mime, SectionText::Header, SectionText::Text}) {
      auto r = sectionRange(m, *p, t);
      if (r) check(r->offset + r->length <= m.size);
    }
  }
  return 0;
}
