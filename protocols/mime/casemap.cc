#include "protocols/mime/casemap.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace popbridge::mime {
namespace {

struct CasemapEntry {
  std::uint32_t from;
  std::uint8_t length;
  std::uint32_t to[4];
};

#include "protocols/mime/casemap_table.inc"

// Decodes one UTF-8 code point at `text[pos]` (shortest form, no surrogates, at most U+10FFFF);
// returns its length, or 0 when the bytes there are not valid UTF-8.
std::size_t decode(std::string_view text, std::size_t pos, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  std::size_t len = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1fU;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0fU;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07U;
    min = 0x10000;
  } else {
    return 0;
  }
  if (pos + len > text.size()) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(text[pos + i]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3fU);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void encode(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

bool isAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void appendCasemapped(std::string_view text, std::string& out) {
  out.reserve(out.size() + text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto b = static_cast<unsigned char>(text[pos]);
    if (b < 0x80) {
      out += static_cast<char>(b >= 'a' && b <= 'z' ? b - ('a' - 'A') : b);
      ++pos;
      continue;
    }
    char32_t cp = 0;
    const std::size_t len = decode(text, pos, cp);
    if (len == 0) {
      out += text[pos];  // not UTF-8: the byte as it is
      ++pos;
      continue;
    }
    const auto* it =
        std::lower_bound(std::begin(kCasemap), std::end(kCasemap), cp,
                         [](const CasemapEntry& entry, char32_t key) { return entry.from < key; });
    if (it != std::end(kCasemap) && it->from == cp) {
      for (std::size_t i = 0; i < it->length; ++i) encode(it->to[i], out);
    } else {
      out.append(text.substr(pos, len));
    }
    pos += len;
  }
}

std::string casemapped(std::string_view text) {
  std::string out;
  appendCasemapped(text, out);
  return out;
}

std::size_t completeUtf8Prefix(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of a sequence that runs past the end.
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = static_cast<unsigned char>(text[n - back]);
    if ((b & 0xc0) == 0x80) continue;  // a continuation byte: keep looking
    std::size_t need = 1;
    if ((b & 0xe0) == 0xc0) {
      need = 2;
    } else if ((b & 0xf0) == 0xe0) {
      need = 3;
    } else if ((b & 0xf8) == 0xf0) {
      need = 4;
    }
    return need > back ? n - back : n;
  }
  return n;
}

std::vector<std::string> nonAsciiSourcesOf(char c) {
  std::vector<std::string> out;
  for (const CasemapAsciiSource& source : kCasemapAsciiSources) {
    if (source.ascii != c) continue;
    out.emplace_back();
    encode(source.from, out.back());
  }
  return out;
}

bool isCasemapTrailing(char32_t cp) {
  return std::binary_search(std::begin(kCasemapTrailing), std::end(kCasemapTrailing),
                            static_cast<std::uint32_t>(cp));
}

bool startsWithCasemapTrailing(std::string_view text) {
  char32_t cp = 0;
  return !text.empty() && decode(text, 0, cp) > 0 && isCasemapTrailing(cp);
}

}  // namespace popbridge::mime
