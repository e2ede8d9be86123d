#pragma once

// Decoding of MIME content into searchable UTF-8 text: Content-Transfer-Encodings
// (quoted-printable and base64, RFC 2045 6.7 and 6.8), charsets (via the C library's iconv(3)),
// RFC 2047 encoded-words in header values, and the search text of a header block.
//
// Push style, like the parser: every decoder is fed its input in chunks of any size and gives
// the same output for any split. Decoding never fails: malformed input is kept or replaced
// (U+FFFD) as each class says, so a damaged message still yields text. No I/O; each object
// belongs to one thread at a time and never calls back.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/mime/message.h"

namespace popbridge::mime {

// Quoted-printable (RFC 2045 6.7). "=XX" becomes the byte, "=" at the end of a line (optionally
// followed by transport padding) is a soft line break and disappears; an "=" that starts neither
// is kept as it is (rule 1 asks for robustness, as Dovecot does).
class QuotedPrintableDecoder {
 public:
  // Decodes what `chunk` completes and appends it to `out`; up to a line's worth of an unfinished
  // escape is held back for the next call.
  void feed(std::string_view chunk, std::string& out);
  // Ends the input: anything held back is appended as it was.
  void finish(std::string& out);

 private:
  std::string pending_;  // an unfinished "=..." at the end of the last chunk
};

// Base64 (RFC 2045 6.8). Characters outside the alphabet (line breaks, spaces, damage) are
// ignored; "=" ends a quantum, and decoding goes on after it (concatenated encodings occur).
class Base64Decoder {
 public:
  void feed(std::string_view chunk, std::string& out);
  // Drops an incomplete final quantum.
  void finish(std::string& out);

 private:
  std::uint32_t bits_ = 0;
  int count_ = 0;
};

// Turns bytes that should be UTF-8 into valid UTF-8: each byte of an invalid or truncated
// sequence (and NUL, which SQL text cannot carry) becomes U+FFFD. Incomplete sequences at the end
// of a chunk wait for the next one.
class Utf8Sanitizer {
 public:
  void feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);

 private:
  std::string pending_;  // the start of a multi-byte sequence cut by the chunk end
};

// Converts text in a named charset to UTF-8. UTF-8 and US-ASCII (and an empty name) are only
// sanitized; other names go through iconv(3) from the C library, which knows the charsets of
// glibc's gconv modules and their aliases, case-insensitively. A charset iconv does not know is
// kept as bytes, sanitized as UTF-8. Bytes invalid in the charset become U+FFFD. The output is
// always valid UTF-8 without NUL.
class CharsetDecoder {
 public:
  explicit CharsetDecoder(std::string_view charset);
  ~CharsetDecoder();
  CharsetDecoder(CharsetDecoder&&) noexcept;
  CharsetDecoder& operator=(CharsetDecoder&&) noexcept;
  CharsetDecoder(const CharsetDecoder&) = delete;
  CharsetDecoder& operator=(const CharsetDecoder&) = delete;

  // False when the charset was not recognised (bytes are passed through as UTF-8).
  bool known() const { return known_; }
  void feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);

 private:
  struct Iconv;
  std::unique_ptr<Iconv> iconv_;  // null for UTF-8, US-ASCII and unknown charsets
  bool known_ = true;
  std::string pending_;  // an incomplete multi-byte character held for the next chunk
  Utf8Sanitizer sanitizer_;
};

// Converts a whole string (a convenience over CharsetDecoder).
std::string toUtf8(std::string_view text, std::string_view charset);

// Decodes the body of one leaf part as its header says: the Content-Transfer-Encoding
// (quoted-printable, base64; anything else is taken as it is) and then its charset parameter
// (none: US-ASCII, RFC 2045 5.2) into UTF-8.
class PartTextDecoder {
 public:
  explicit PartTextDecoder(const Part& part);
  void feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);

 private:
  enum class Transfer : std::uint8_t { Identity, QuotedPrintable, Base64 };
  Transfer transfer_ = Transfer::Identity;
  QuotedPrintableDecoder qp_;
  Base64Decoder base64_;
  CharsetDecoder charset_;
  std::string decoded_;  // scratch between the two stages
};

// The Content-Transfer-Encodings FETCH BINARY can undo (RFC 3516 4.2): 7bit, 8bit and binary
// are passed through, quoted-printable and base64 decoded.
enum class TransferEncoding : std::uint8_t { Identity, QuotedPrintable, Base64 };

// The encoding a part's Content-Transfer-Encoding names (case-insensitive; an absent field is
// 7bit, RFC 2045 6.1). nullopt for any other token (x-uuencode, garbage): FETCH BINARY answers
// NO [UNKNOWN-CTE] for it (RFC 3516 4.3).
std::optional<TransferEncoding> transferEncodingOf(const Part& part);

// The version of FETCH BINARY's data: the store keeps decoded sizes under it, so raise it
// whenever a change makes any input decode to different bytes (here or in how the proxy builds
// a section). 2: sections with parts decode the leaves inside them.
constexpr std::int64_t kTransferDecoderVersion = 2;

// Undoes one transfer encoding, bytes in and bytes out (no charset conversion). Fed in chunks of
// any size, with the same output for any split.
class TransferDecoder {
 public:
  explicit TransferDecoder(TransferEncoding encoding) : encoding_(encoding) {}
  void feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);

 private:
  TransferEncoding encoding_;
  QuotedPrintableDecoder qp_;
  Base64Decoder base64_;
};

// RFC 2047 encoded-words in an unfolded header value: each "=?charset?B|Q?text?=" is replaced by
// its text converted to UTF-8, and white space between two adjacent encoded-words disappears
// (RFC 2047 6.2). A word whose charset is unknown or whose text does not decode is kept as
// written. A charset's RFC 2231 language suffix ("utf-8*en") is ignored. The rest of the value is
// left as it is.
std::string decodeEncodedWords(std::string_view value);

// The searchable text of a header block (RFC 5322 2.2): one line "Name: value\n" per field, the
// value unfolded (2.2.3), its leading white space dropped, encoded-words decoded and the result
// sanitized as UTF-8. The block ends at its first empty line.
std::string headerSearchText(std::string_view header);

// True for the parts whose body is searchable text: leaves of type text/* (a missing
// Content-Type is text/plain, RFC 2045 5.2).
bool isTextPart(const Part& part);

}  // namespace popbridge::mime
