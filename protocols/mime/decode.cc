#include "protocols/mime/decode.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

#include "protocols/mime/rfc822.h"

namespace popbridge::mime {
namespace {

using rfc822::iequals;

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
// An "=" followed by more transport padding than this is not a soft line break being cut by a
// chunk end; it is kept as written.
constexpr std::size_t kMaxQpPending = 1024;

// Byte -> hex digit value, -1 for anything else.
constexpr std::array<std::int8_t, 256> kHexTable = [] {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int c = '0'; c <= '9'; ++c)
    table[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    table[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c)
    table[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'A' + 10);
  return table;
}();

// Byte -> base64 value (RFC 2045 6.8 table 1), kBase64Pad for "=", -1 for bytes to skip.
constexpr std::int8_t kBase64Pad = -2;
constexpr std::array<std::int8_t, 256> kBase64Table = [] {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  table[static_cast<unsigned char>('=')] = kBase64Pad;
  return table;
}();

// Copies bytes from `p` to `dst` up to the next "=" or `end`, advancing both. Escapes can be a
// few bytes apart (text in a non-ASCII script), so rather than a memchr call per run this looks
// at eight bytes at a time: a word without "=" is copied whole, otherwise up to its first "=".
// The caller guarantees room: `dst` never runs ahead of `p` in a buffer as long as the input.
inline void copyUntilEquals(const char*& p, const char* end, char*& dst) {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t kOnes = 0x0101010101010101;
    constexpr std::uint64_t kHighs = 0x8080808080808080;
    constexpr std::uint64_t kEquals = kOnes * '=';
    while (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, 8);
      std::memcpy(dst, &word, 8);
      const std::uint64_t x = word ^ kEquals;
      // The lowest byte flagged here is the first "=" (higher flags may be false).
      const std::uint64_t found = (x - kOnes) & ~x & kHighs;
      if (found != 0) {
        const auto n = static_cast<std::size_t>(std::countr_zero(found) / 8);
        p += n;
        dst += n;
        return;
      }
      p += 8;
      dst += 8;
    }
  }
  while (p < end && *p != '=') *dst++ = *p++;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The length of the UTF-8 sequence a lead byte announces, 0 for a byte that cannot lead one.
std::size_t sequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

// Whether `bytes` (of the announced length, or a prefix of it) can still be valid UTF-8: the
// continuation bytes and the narrower second-byte ranges of RFC 3629 4 (no overlongs, no
// surrogates, nothing above U+10FFFF).
bool validPrefix(std::string_view bytes) {
  const auto lead = static_cast<unsigned char>(bytes[0]);
  for (std::size_t i = 1; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (i == 1) {
      if (lead == 0xe0) lo = 0xa0;
      if (lead == 0xed) hi = 0x9f;
      if (lead == 0xf0) lo = 0x90;
      if (lead == 0xf4) hi = 0x8f;
    }
    if (c < lo || c > hi) return false;
  }
  return true;
}

// RFC 2047 4.2: "_" is a space, "=XX" a byte.
std::optional<std::string> decodeQ(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_') {
      out += ' ';
    } else if (text[i] == '=') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::string> decodeB(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != '=' && base64Value(c) < 0) return std::nullopt;
  }
  Base64Decoder decoder;
  decoder.feed(text, out);
  decoder.finish(out);
  return out;
}

bool isUtf8Name(std::string_view charset) {
  return charset.empty() || iequals(charset, "utf-8") || iequals(charset, "utf8") ||
         iequals(charset, "us-ascii") || iequals(charset, "ascii");
}

}  // namespace

// ---------------------------------------------------------------- quoted-printable

void QuotedPrintableDecoder::feed(std::string_view chunk, std::string& out) {
  std::string joined;
  if (!pending_.empty()) {
    joined = std::move(pending_);
    pending_.clear();
    joined.append(chunk);
    chunk = joined;
  }
  // The output is never longer than the input: write into room made once, trim at the end.
  const std::size_t old = out.size();
  out.resize(old + chunk.size());
  char* const first = out.data() + old;
  char* dst = first;
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  while (p < end) {
    if (*p != '=') {
      copyUntilEquals(p, end, dst);
      continue;
    }
    if (end - p > 2) {
      const int hi = kHexTable[static_cast<unsigned char>(p[1])];
      const int lo = kHexTable[static_cast<unsigned char>(p[2])];
      if ((hi | lo) >= 0) {
        *dst++ = static_cast<char>((hi << 4) | lo);
        p += 3;
        continue;
      }
    }
    // A soft line break: "=", optional transport padding, then CRLF or LF.
    const char* j = p + 1;
    while (j < end && (*j == ' ' || *j == '\t')) ++j;
    if (j < end && *j == '\n') {
      p = j + 1;
      continue;
    }
    if (end - j >= 2 && j[0] == '\r' && j[1] == '\n') {
      p = j + 2;
      continue;
    }
    // The chunk may end inside an escape or a soft line break: wait for the next one.
    const bool cut = j == end || (end - j == 1 && *j == '\r') ||
                     (end - p == 2 && kHexTable[static_cast<unsigned char>(p[1])] >= 0);
    if (cut && static_cast<std::size_t>(end - p) <= kMaxQpPending) {
      pending_.assign(p, static_cast<std::size_t>(end - p));
      break;
    }
    *dst++ = '=';  // not an escape: kept as written
    ++p;
  }
  out.resize(old + static_cast<std::size_t>(dst - first));
}

void QuotedPrintableDecoder::finish(std::string& out) {
  std::string_view rest = pending_;
  // "=" and padding at the very end: a soft line break without its line end.
  if (rest.find_first_not_of(" \t\r", 1) != std::string_view::npos) out.append(rest);
  pending_.clear();
}

// ---------------------------------------------------------------- base64

void Base64Decoder::feed(std::string_view chunk, std::string& out) {
  // At most 3 bytes per 4 input characters, plus what the pending bits complete.
  const std::size_t old = out.size();
  out.resize(old + chunk.size() / 4 * 3 + 3);
  char* const first = out.data() + old;
  char* dst = first;
  const auto* p = reinterpret_cast<const unsigned char*>(chunk.data());
  const unsigned char* const end = p + chunk.size();
  while (p < end) {
    // Whole quanta of four alphabet characters (the body of every line) at once.
    if (count_ == 0) {
      while (end - p >= 4) {
        const int a = kBase64Table[p[0]];
        const int b = kBase64Table[p[1]];
        const int c = kBase64Table[p[2]];
        const int d = kBase64Table[p[3]];
        if ((a | b | c | d) < 0) break;
        const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
        dst[0] = static_cast<char>(v >> 16);
        dst[1] = static_cast<char>((v >> 8) & 0xff);
        dst[2] = static_cast<char>(v & 0xff);
        dst += 3;
        p += 4;
      }
      if (p == end) break;
    }
    // One character: a line break or other skipped byte, "=", or part of a cut quantum.
    const int v = kBase64Table[*p++];
    if (v == kBase64Pad) {
      bits_ = 0;
      count_ = 0;
      continue;
    }
    if (v < 0) continue;
    bits_ = ((bits_ << 6) | static_cast<std::uint32_t>(v)) & 0xffffff;
    count_ += 6;
    if (count_ >= 8) {
      count_ -= 8;
      *dst++ = static_cast<char>((bits_ >> count_) & 0xff);
    }
  }
  out.resize(old + static_cast<std::size_t>(dst - first));
}

void Base64Decoder::finish(std::string& /*out*/) {
  bits_ = 0;
  count_ = 0;
}

// ---------------------------------------------------------------- UTF-8

void Utf8Sanitizer::feed(std::string_view chunk, std::string& out) {
  std::string joined;
  if (!pending_.empty()) {
    joined = std::move(pending_);
    pending_.clear();
    joined.append(chunk);
    chunk = joined;
  }
  std::size_t i = 0;
  std::size_t run = i;  // start of bytes copied as they are
  while (i < chunk.size()) {
    const auto c = static_cast<unsigned char>(chunk[i]);
    if (c >= 0x01 && c < 0x80) {
      ++i;
      continue;
    }
    out.append(chunk.substr(run, i - run));
    const std::size_t need = c == 0 ? 0 : sequenceLength(c);
    if (need == 0) {
      out.append(kReplacement);
      run = ++i;
      continue;
    }
    const std::size_t have = std::min(need, chunk.size() - i);
    std::size_t valid = 1;
    while (valid < have && validPrefix(chunk.substr(i, valid + 1))) ++valid;
    if (valid == need) {
      out.append(chunk.substr(i, need));
      i += need;
    } else if (valid == have) {
      pending_.assign(chunk.substr(i, have));  // cut by the chunk end
      return;
    } else {
      out.append(kReplacement);
      ++i;
    }
    run = i;
  }
  out.append(chunk.substr(run));
}

void Utf8Sanitizer::finish(std::string& out) {
  if (!pending_.empty()) out.append(kReplacement);
  pending_.clear();
}

// ---------------------------------------------------------------- charsets

struct CharsetDecoder::Iconv {
  iconv_t cd;
};

CharsetDecoder::CharsetDecoder(std::string_view charset) {
  if (isUtf8Name(charset)) return;
  const std::string name(charset);
  iconv_t cd = ::iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    known_ = false;
    return;
  }
  iconv_ = std::make_unique<Iconv>(Iconv{cd});
}

CharsetDecoder::~CharsetDecoder() {
  if (iconv_) ::iconv_close(iconv_->cd);
}

CharsetDecoder::CharsetDecoder(CharsetDecoder&&) noexcept = default;

CharsetDecoder& CharsetDecoder::operator=(CharsetDecoder&& other) noexcept {
  if (this != &other) {
    if (iconv_) ::iconv_close(iconv_->cd);
    iconv_ = std::move(other.iconv_);
    known_ = other.known_;
    pending_ = std::move(other.pending_);
    sanitizer_ = std::move(other.sanitizer_);
  }
  return *this;
}

void CharsetDecoder::feed(std::string_view chunk, std::string& out) {
  if (!iconv_) {
    sanitizer_.feed(chunk, out);
    return;
  }
  std::string input = std::move(pending_);
  pending_.clear();
  input.append(chunk);
  char* in = input.data();
  std::size_t in_left = input.size();
  std::string converted;
  char buffer[4096];
  while (in_left > 0) {
    char* to = buffer;
    std::size_t to_left = sizeof(buffer);
    const std::size_t done = ::iconv(iconv_->cd, &in, &in_left, &to, &to_left);
    converted.append(buffer, sizeof(buffer) - to_left);
    if (done != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) continue;
    if (errno == EINVAL) {
      // An incomplete character at the end: wait for the rest (bounded: a character is short).
      if (in_left < 16) {
        pending_.assign(in, in_left);
        break;
      }
    }
    // EILSEQ (or a runaway EINVAL): one bad byte becomes U+FFFD.
    converted.append(kReplacement);
    ++in;
    --in_left;
  }
  sanitizer_.feed(converted, out);  // iconv's UTF-8 is valid; this drops NULs
}

void CharsetDecoder::finish(std::string& out) {
  if (iconv_) {
    if (!pending_.empty()) sanitizer_.feed(kReplacement, out);
    pending_.clear();
    char buffer[64];
    char* to = buffer;
    std::size_t to_left = sizeof(buffer);
    ::iconv(iconv_->cd, nullptr, nullptr, &to, &to_left);  // a stateful charset's final shift
    sanitizer_.feed(std::string_view(buffer, sizeof(buffer) - to_left), out);
  }
  sanitizer_.finish(out);
}

std::string toUtf8(std::string_view text, std::string_view charset) {
  CharsetDecoder decoder(charset);
  std::string out;
  decoder.feed(text, out);
  decoder.finish(out);
  return out;
}

// ---------------------------------------------------------------- parts

namespace {

std::string_view paramValue(const Part& part, std::string_view name) {
  for (const Param& param : part.params) {
    if (iequals(param.name, name)) return param.value;
  }
  return {};
}

}  // namespace

PartTextDecoder::PartTextDecoder(const Part& part) : charset_(paramValue(part, "charset")) {
  if (part.encoding) {
    if (iequals(*part.encoding, "quoted-printable")) transfer_ = Transfer::QuotedPrintable;
    if (iequals(*part.encoding, "base64")) transfer_ = Transfer::Base64;
  }
}

void PartTextDecoder::feed(std::string_view chunk, std::string& out) {
  switch (transfer_) {
    case Transfer::Identity:
      charset_.feed(chunk, out);
      return;
    case Transfer::QuotedPrintable:
      qp_.feed(chunk, decoded_);
      break;
    case Transfer::Base64:
      base64_.feed(chunk, decoded_);
      break;
  }
  charset_.feed(decoded_, out);
  decoded_.clear();
}

void PartTextDecoder::finish(std::string& out) {
  if (transfer_ == Transfer::QuotedPrintable) qp_.finish(decoded_);
  if (transfer_ == Transfer::Base64) base64_.finish(decoded_);
  charset_.feed(decoded_, out);
  decoded_.clear();
  charset_.finish(out);
}

// ---------------------------------------------------------------- transfer encodings

std::optional<TransferEncoding> transferEncodingOf(const Part& part) {
  if (!part.encoding) return TransferEncoding::Identity;
  std::string_view name = *part.encoding;
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  if (iequals(name, "7bit") || iequals(name, "8bit") || iequals(name, "binary")) {
    return TransferEncoding::Identity;
  }
  if (iequals(name, "quoted-printable")) return TransferEncoding::QuotedPrintable;
  if (iequals(name, "base64")) return TransferEncoding::Base64;
  return std::nullopt;
}

void TransferDecoder::feed(std::string_view chunk, std::string& out) {
  switch (encoding_) {
    case TransferEncoding::Identity:
      out.append(chunk);
      return;
    case TransferEncoding::QuotedPrintable:
      qp_.feed(chunk, out);
      return;
    case TransferEncoding::Base64:
      base64_.feed(chunk, out);
      return;
  }
}

void TransferDecoder::finish(std::string& out) {
  if (encoding_ == TransferEncoding::QuotedPrintable) qp_.finish(out);
  if (encoding_ == TransferEncoding::Base64) base64_.finish(out);
}

bool isTextPart(const Part& part) {
  return part.kind == PartKind::Leaf && (!part.type || iequals(*part.type, "text"));
}

// ---------------------------------------------------------------- headers

std::string decodeEncodedWords(std::string_view value) {
  if (value.find("=?") == std::string_view::npos) return std::string(value);
  std::string out;
  std::size_t pos = 0;
  bool last_was_word = false;
  while (pos < value.size()) {
    const std::size_t start = value.find("=?", pos);
    if (start == std::string_view::npos) break;
    const std::size_t q1 = value.find('?', start + 2);
    const std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
    const std::size_t close = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
    if (close == std::string_view::npos || q2 != q1 + 2) {
      out.append(value.substr(pos, start + 2 - pos));
      pos = start + 2;
      last_was_word = false;
      continue;
    }
    const std::string_view between = value.substr(pos, start - pos);
    const bool only_space =
        std::all_of(between.begin(), between.end(), [](char c) { return c == ' ' || c == '\t'; });
    std::string charset = lowered(value.substr(start + 2, q1 - start - 2));
    if (const std::size_t star = charset.find('*'); star != std::string::npos) {
      charset.resize(star);  // RFC 2231 5: language suffix
    }
    const char encoding = lower(value[q1 + 1]);
    const std::string_view text = value.substr(q2 + 1, close - q2 - 1);
    std::optional<std::string> decoded;
    if (encoding == 'b') decoded = decodeB(text);
    if (encoding == 'q') decoded = decodeQ(text);
    std::optional<CharsetDecoder> converter;
    if (decoded) converter.emplace(charset);
    if (!decoded || !converter->known()) {
      out.append(value.substr(pos, close + 2 - pos));
      pos = close + 2;
      last_was_word = false;
      continue;
    }
    if (!(last_was_word && only_space)) out.append(between);
    converter->feed(*decoded, out);
    converter->finish(out);
    pos = close + 2;
    last_was_word = true;
  }
  out.append(value.substr(pos));
  return out;
}

std::string headerSearchText(std::string_view header) {
  std::string out;
  std::string field;  // the current field, unfolded
  const auto flush = [&] {
    if (field.empty()) return;
    const std::size_t colon = field.find(':');
    std::string_view name(field.data(), colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    std::string_view value = std::string_view(field).substr(colon + 1);
    const std::size_t first = value.find_first_not_of(" \t");
    value.remove_prefix(first == std::string_view::npos ? value.size() : first);
    std::string line(name);
    line += ": ";
    line += decodeEncodedWords(value);
    line += '\n';
    Utf8Sanitizer sanitizer;
    sanitizer.feed(line, out);
    sanitizer.finish(out);
    field.clear();
  };
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t eol = header.find('\n', pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the empty line ending the header
    if (line[0] == ' ' || line[0] == '\t') {
      if (!field.empty()) field.append(line);
      continue;
    }
    flush();
    if (line.find(':') != std::string_view::npos) field.assign(line);
  }
  flush();
  return out;
}

}  // namespace popbridge::mime
