#pragma once

// Reference transfer decoders for tests and fuzz targets.

#include <cstdint>
#include <string>
#include <string_view>

namespace popbridge::mime::testing {

// The straightforward byte-at-a-time decoders the table-driven ones replaced, kept as the
// reference for the differential tests below: whole input only, the same rules.
inline std::string referenceQp(std::string_view in) {
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '=') {
      out += in[i++];
      continue;
    }
    if (i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 3;
      continue;
    }
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && in[j] == '\n') {
      i = j + 1;
    } else if (j + 1 < in.size() && in[j] == '\r' && in[j + 1] == '\n') {
      i = j + 2;
    } else if (j == in.size() || (j + 1 == in.size() && in[j] == '\r')) {
      i = in.size();  // "=", padding and maybe CR at the very end: a soft break cut short
    } else {
      out += in[i++];
    }
  }
  return out;
}

inline std::string referenceBase64(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : in) {
    if (c == '=') {
      bits = 0;
      count = 0;
      continue;
    }
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) continue;
    bits = ((bits << 6) | static_cast<std::uint32_t>(v)) & 0xffffff;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

}  // namespace popbridge::mime::testing
