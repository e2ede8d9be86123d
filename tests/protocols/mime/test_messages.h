#pragma once

// Shared helpers for the MIME tests: parsing whole, byte by byte and split at every offset.

#include <string>
#include <string_view>

#include "protocols/mime/imap_encode.h"
#include "protocols/mime/message.h"
#include "protocols/mime/parser.h"

namespace popbridge::mime::test {

// `text` written with "\n" line ends, returned with CRLF.
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline Message parseWhole(std::string_view data, Limits limits = Limits{}) {
  Parser p(limits);
  p.feed(data);
  return p.finish();
}

inline Message parseBytewise(std::string_view data, Limits limits = Limits{}) {
  Parser p(limits);
  for (char c : data) p.feed(std::string_view(&c, 1));
  return p.finish();
}

inline Message parseSplit(std::string_view data, std::size_t at, Limits limits = Limits{}) {
  Parser p(limits);
  p.feed(data.substr(0, at));
  p.feed(std::string_view());
  p.feed(data.substr(at));
  return p.finish();
}

inline std::string bodyStructure(const Message& m, Extended ext = Extended::Yes) {
  std::string out;
  appendBodyStructure(out, m, ext);
  return out;
}

inline std::string envelope(const Message& m) {
  std::string out;
  appendEnvelope(out, m);
  return out;
}

}  // namespace popbridge::mime::test
