#include "protocols/mime/decode.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "protocols/mime/parser.h"
#include "tests/protocols/mime/reference_decode.h"

namespace popbridge::mime {
namespace {

using testing::referenceBase64;
using testing::referenceQp;

// Feeds `input` whole, byte by byte and split at every offset (STYLE.md 8.2); every split must
// give the output of the whole feed, which is returned.
template <class Decoder, class... Args>
std::string decodeAllSplits(std::string_view input, const Args&... args) {
  const auto run = [&](auto&& split) {
    Decoder decoder(args...);
    std::string out;
    split(decoder, out);
    decoder.finish(out);
    return out;
  };
  const std::string whole = run([&](Decoder& d, std::string& out) { d.feed(input, out); });
  const std::string bytes = run([&](Decoder& d, std::string& out) {
    for (const char c : input) d.feed(std::string_view(&c, 1), out);
  });
  EXPECT_EQ(bytes, whole) << "byte by byte";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const std::string two = run([&](Decoder& d, std::string& out) {
      d.feed(input.substr(0, cut), out);
      d.feed(input.substr(cut), out);
    });
    EXPECT_EQ(two, whole) << "split at " << cut;
  }
  return whole;
}

std::string qp(std::string_view input) { return decodeAllSplits<QuotedPrintableDecoder>(input); }
std::string base64(std::string_view input) { return decodeAllSplits<Base64Decoder>(input); }
std::string utf8(std::string_view input) { return decodeAllSplits<Utf8Sanitizer>(input); }
std::string charset(std::string_view input, std::string_view name) {
  return decodeAllSplits<CharsetDecoder>(input, name);
}

TEST(MimeDecode, QuotedPrintable) {
  EXPECT_EQ(qp("caf=C3=A9 cr=e8me"), "caf\xc3\xa9 cr\xe8me");
  // Soft line breaks (RFC 2045 6.7 rule 5), with CRLF, bare LF and transport padding.
  EXPECT_EQ(qp("long li=\r\nne and mo=\nre and pad= \t\r\nded"), "long line and more and padded");
  // Hard line breaks stay.
  EXPECT_EQ(qp("a\r\nb\n"), "a\r\nb\n");
  // An "=" that starts no escape is kept (robustness, rule 1 note).
  EXPECT_EQ(qp("1+1=2, x=zz, =G0"), "1+1=2, x=zz, =G0");
  EXPECT_EQ(qp("=3d=3D"), "==");
  // At the very end: a lone "=" is a soft break without its line end; "=A" is kept.
  EXPECT_EQ(qp("end="), "end");
  EXPECT_EQ(qp("end=A"), "end=A");
  EXPECT_EQ(qp("end=\r"), "end");
  EXPECT_EQ(qp(""), "");
}

TEST(MimeDecode, Base64) {
  EXPECT_EQ(base64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(base64("aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n"), "hello world");
  EXPECT_EQ(base64("YQ==Yg=="), "ab");       // concatenated encodings
  EXPECT_EQ(base64("a GV*sb!G8"), "hello");  // characters outside the alphabet are skipped
  EXPECT_EQ(base64("YWJj"), "abc");
  EXPECT_EQ(base64("YWJjZA"), "abcd");  // missing padding
  EXPECT_EQ(base64("Y"), "");           // an incomplete quantum is dropped
}

TEST(MimeDecode, Utf8Sanitizer) {
  EXPECT_EQ(utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
            "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(utf8("a\xe9z"), "a" + r + "z");                     // Latin-1 byte
  EXPECT_EQ(utf8("a\xc3"), "a" + r);                            // truncated at the end
  EXPECT_EQ(utf8("\xc0\xaf"), r + r);                           // overlong
  EXPECT_EQ(utf8("\xed\xa0\x80"), r + r + r);                   // surrogate
  EXPECT_EQ(utf8("\xf4\x90\x80\x80"), r + r + r + r);           // above U+10FFFF
  EXPECT_EQ(utf8("\xe2\x82z"), r + r + "z");                    // cut sequence, then ASCII
  EXPECT_EQ(utf8(std::string_view("a\0b", 3)), "a" + r + "b");  // NUL
}

TEST(MimeDecode, Charsets) {
  EXPECT_EQ(charset("caf\xe9", "ISO-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(charset("caf\xe9", "iso-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(charset("\x80 5", "windows-1252"), "\xe2\x82\xac 5");
  EXPECT_EQ(charset("\xa4", "iso-8859-15"), "\xe2\x82\xac");
  EXPECT_EQ(charset("\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r"),
            "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  // Shift_JIS: two-byte characters, split anywhere.
  EXPECT_EQ(charset("\x93\xfa\x96\x7b", "shift_jis"), "\xe6\x97\xa5\xe6\x9c\xac");
  // ISO-2022-JP is stateful: escape sequences switch the character set.
  EXPECT_EQ(charset("\x1b$B;z\x1b(B x", "iso-2022-jp"), "\xe5\xad\x97 x");
  // UTF-16 with a BOM, whose NUL bytes never reach the output.
  EXPECT_EQ(charset(std::string_view("\xff\xfe"
                                     "a\0b\0",
                                     6),
                    "utf-16"),
            "ab");
  // UTF-8 and US-ASCII are only sanitized; so is a charset iconv does not know.
  EXPECT_EQ(charset("h\xc3\xa9", "UTF-8"), "h\xc3\xa9");
  EXPECT_EQ(charset("h\xc3\xa9", "us-ascii"), "h\xc3\xa9");
  EXPECT_EQ(charset("h\xc3\xa9\xff", "x-unknown-charset"), "h\xc3\xa9\xef\xbf\xbd");
  EXPECT_FALSE(CharsetDecoder("x-unknown-charset").known());
  EXPECT_TRUE(CharsetDecoder("utf-8").known());
  // A byte invalid in the charset becomes U+FFFD and decoding goes on.
  EXPECT_EQ(charset("a\x81 z", "shift_jis"), "a\xef\xbf\xbd z");
  EXPECT_EQ(toUtf8("caf\xe9", "latin1"), "caf\xc3\xa9");
}

Part leaf(std::optional<std::string> type, std::optional<std::string> encoding,
          std::string charset_name) {
  Part part;
  part.type = std::move(type);
  if (part.type) part.subtype = "plain";
  part.encoding = std::move(encoding);
  if (!charset_name.empty()) part.params.push_back(Param{"charset", std::move(charset_name)});
  return part;
}

std::string decodePart(const Part& part, std::string_view body) {
  return decodeAllSplits<PartTextDecoder>(body, part);
}

TEST(MimeDecode, PartText) {
  EXPECT_EQ(decodePart(leaf("text", "quoted-printable", "iso-8859-1"), "caf=E9 =\r\nau lait"),
            "caf\xc3\xa9 au lait");
  EXPECT_EQ(decodePart(leaf("TEXT", "BASE64", "UTF-8"), "Y2Fmw6k="), "caf\xc3\xa9");
  EXPECT_EQ(decodePart(leaf("text", "base64", "windows-1252"), "gCA1"), "\xe2\x82\xac 5");
  EXPECT_EQ(decodePart(leaf("text", "8bit", ""), "caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(decodePart(leaf(std::nullopt, std::nullopt, ""), "plain =41"), "plain =41");
  EXPECT_EQ(decodePart(leaf("text", "x-uuencode", ""), "as is"), "as is");

  EXPECT_TRUE(isTextPart(leaf("text", std::nullopt, "")));
  EXPECT_TRUE(isTextPart(leaf(std::nullopt, std::nullopt, "")));
  EXPECT_FALSE(isTextPart(leaf("image", "base64", "")));
  Part multipart = leaf("multipart", std::nullopt, "");
  multipart.kind = PartKind::Multipart;
  EXPECT_FALSE(isTextPart(multipart));
}

// FETCH BINARY (RFC 3516 4.2): bytes out, no charset conversion, NUL and 8-bit bytes kept.
TEST(MimeDecode, TransferDecoder) {
  const auto decode = [](TransferEncoding encoding, std::string_view input) {
    return decodeAllSplits<TransferDecoder>(input, encoding);
  };
  const std::string binary("\0\x01\xff\r\n\0", 6);
  EXPECT_EQ(decode(TransferEncoding::Base64, "AAH/\r\nDQoA\r\n"), binary);
  EXPECT_EQ(decode(TransferEncoding::QuotedPrintable, "=00=01=FF=\r\n\r\n=00"), binary);
  EXPECT_EQ(decode(TransferEncoding::QuotedPrintable, "caf=E9 =3D\r\nend="), "caf\xe9 =\r\nend");
  EXPECT_EQ(decode(TransferEncoding::Identity, binary), binary);
  EXPECT_EQ(decode(TransferEncoding::Identity, "=41 QUE="), "=41 QUE=");
}

TEST(MimeDecode, TransferEncodingOf) {
  const auto encodingOf = [](std::optional<std::string> cte) {
    return transferEncodingOf(leaf("application", std::move(cte), ""));
  };
  EXPECT_EQ(encodingOf(std::nullopt), TransferEncoding::Identity);  // RFC 2045 6.1: 7bit
  EXPECT_EQ(encodingOf("7BIT"), TransferEncoding::Identity);
  EXPECT_EQ(encodingOf("8bit"), TransferEncoding::Identity);
  EXPECT_EQ(encodingOf("Binary"), TransferEncoding::Identity);
  EXPECT_EQ(encodingOf("Quoted-Printable"), TransferEncoding::QuotedPrintable);
  EXPECT_EQ(encodingOf("BASE64"), TransferEncoding::Base64);
  EXPECT_EQ(encodingOf("x-uuencode"), std::nullopt);
  EXPECT_EQ(encodingOf("base-64"), std::nullopt);
  EXPECT_EQ(encodingOf(""), std::nullopt);
}

TEST(MimeDecode, EncodedWords) {
  // RFC 2047 8's examples.
  EXPECT_EQ(decodeEncodedWords("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
            "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>");
  EXPECT_EQ(decodeEncodedWords("=?ISO-8859-1?Q?a?= b"), "a b");
  EXPECT_EQ(decodeEncodedWords("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(decodeEncodedWords("=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(decodeEncodedWords("=?ISO-8859-1?Q?a_b?="), "a b");
  EXPECT_EQ(decodeEncodedWords("(=?ISO-8859-1?Q?a?= b)"), "(a b)");
  // B encoding, charsets beyond Latin-1 (iconv), the RFC 2231 language suffix.
  EXPECT_EQ(decodeEncodedWords("=?UTF-8?B?SMOpbGxv?="), "H\xc3\xa9llo");
  EXPECT_EQ(decodeEncodedWords("=?koi8-r?B?8NLJ18XU?="),
            "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  EXPECT_EQ(decodeEncodedWords("=?iso-2022-jp?B?GyRCO3obKEI=?="), "\xe5\xad\x97");
  EXPECT_EQ(decodeEncodedWords("=?utf-8*en?q?hi?="), "hi");
  // Kept as written: unknown charset, broken encoding, not a word.
  EXPECT_EQ(decodeEncodedWords("=?x-nope?Q?a?= z"), "=?x-nope?Q?a?= z");
  EXPECT_EQ(decodeEncodedWords("=?utf-8?B?***?="), "=?utf-8?B?***?=");
  EXPECT_EQ(decodeEncodedWords("=?utf-8?Q?=ZZ?="), "=?utf-8?Q?=ZZ?=");
  EXPECT_EQ(decodeEncodedWords("a =? b ?= c"), "a =? b ?= c");
  EXPECT_EQ(decodeEncodedWords("no words"), "no words");
}

TEST(MimeDecode, HeaderSearchText) {
  const std::string header =
      "From: =?ISO-8859-1?Q?Andr=E9?= <a@example.org>\r\n"
      "Subject: =?UTF-8?B?SMOpbGxv?=\r\n =?ISO-8859-1?Q?_W=F6rld?=\r\n"
      "X-Folded: one\r\n\ttwo\r\n"
      "X-Empty:\r\n"
      "not a field\r\n"
      "X-Raw: caf\xe9\r\n"
      "\r\n"
      "Body: not a header\r\n";
  EXPECT_EQ(headerSearchText(header),
            "From: Andr\xc3\xa9 <a@example.org>\n"
            "Subject: H\xc3\xa9llo W\xc3\xb6rld\n"
            "X-Folded: one\ttwo\n"
            "X-Empty: \n"
            "X-Raw: caf\xef\xbf\xbd\n");
  EXPECT_EQ(headerSearchText("A: b\nC: d\n\nrest"), "A: b\nC: d\n");
  EXPECT_EQ(headerSearchText(""), "");
}

// Properties over random input: any split gives the whole feed's output, and what reaches the
// index is valid UTF-8 without NUL, whatever the bytes and the charset.
bool isValidUtf8WithoutNul(std::string_view text) {
  std::string again;
  Utf8Sanitizer sanitizer;
  sanitizer.feed(text, again);
  sanitizer.finish(again);
  return again == text && text.find('\0') == std::string_view::npos;
}

template <class Decoder, class... Args>
std::string randomSplits(std::mt19937& rng, std::string_view input, const Args&... args) {
  Decoder decoder(args...);
  std::string out;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = std::min<std::size_t>(input.size() - at, 1 + rng() % 7);
    decoder.feed(input.substr(at, n), out);
    at += n;
  }
  decoder.finish(out);
  return out;
}

template <class Decoder, class... Args>
std::string whole(std::string_view input, const Args&... args) {
  Decoder decoder(args...);
  std::string out;
  decoder.feed(input, out);
  decoder.finish(out);
  return out;
}

TEST(MimeDecode, RandomInputProperties) {
  std::mt19937 rng(7);
  const std::string alphabet =
      std::string("=\r\n \tAZaz09+/_?\x80\xc3\xa9\xe2\x82\xac\xff\x1b$B(") + std::string(1, '\0');
  for (int round = 0; round < 400; ++round) {
    std::string input;
    const std::size_t length = rng() % 64;
    for (std::size_t i = 0; i < length; ++i) {
      input += rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    EXPECT_EQ(randomSplits<QuotedPrintableDecoder>(rng, input),
              whole<QuotedPrintableDecoder>(input));
    EXPECT_EQ(randomSplits<Base64Decoder>(rng, input), whole<Base64Decoder>(input));
    const std::string sanitized = whole<Utf8Sanitizer>(input);
    EXPECT_TRUE(isValidUtf8WithoutNul(sanitized));
    EXPECT_EQ(randomSplits<Utf8Sanitizer>(rng, input), sanitized);
    for (const char* name :
         {"utf-8", "iso-8859-1", "shift_jis", "iso-2022-jp", "utf-16", "koi8-r", "x-unknown"}) {
      const std::string converted = whole<CharsetDecoder>(input, std::string_view(name));
      EXPECT_TRUE(isValidUtf8WithoutNul(converted)) << name;
      EXPECT_EQ(randomSplits<CharsetDecoder>(rng, input, std::string_view(name)), converted)
          << name;
    }
    EXPECT_TRUE(isValidUtf8WithoutNul(headerSearchText(input)));
  }
}

// Feeds `input` in chunks of `size` bytes.
template <class Decoder>
std::string chunked(std::string_view input, std::size_t size) {
  Decoder decoder;
  std::string out;
  for (std::size_t pos = 0; pos < input.size(); pos += size) {
    decoder.feed(input.substr(pos, size), out);
  }
  decoder.finish(out);
  return out;
}

TEST(MimeDecode, Base64EveryChunkBoundary) {
  // Every quantum position, line breaks of both kinds, padding mid-stream and damage; split at
  // every offset (decodeAllSplits) and fed in chunks of every small size.
  const std::string input =
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\r\n"
      "MDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n"
      "YGFi Y2Rl\tZmdo*aWpr!bG1u\r\nb3Bx=cnN0dXZ3eHl6e3x9fn+A==gYKDhIWGh4iJiouMjY6P\r\n";
  const std::string whole = base64(input);
  EXPECT_EQ(whole, referenceBase64(input));
  for (std::size_t size = 1; size <= 70; ++size) {
    EXPECT_EQ(chunked<Base64Decoder>(input, size), whole) << "chunks of " << size;
  }
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  EXPECT_EQ(
      base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7"
             "PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3"
             "eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKz"
             "tLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v"
             "8PHy8/T19vf4+fr7/P3+/w=="),
      bytes);
}

TEST(MimeDecode, Base64Invalid) {
  EXPECT_EQ(base64("===="), "");
  EXPECT_EQ(base64("\r\n\r\n"), "");
  // "=" drops the cut quantum "Y"; "WJj" is 18 bits: "X", 0x98 and 2 bits dropped at the end.
  EXPECT_EQ(base64("Y=WJj"), "X\x98");
  EXPECT_EQ(base64(std::string("YW\0Jj", 5)), "abc");  // NUL and 8-bit bytes are skipped
  EXPECT_EQ(base64("YW\xffJj"), "abc");
  EXPECT_EQ(base64("-_-_YWJj"), "abc");  // base64url characters are not the MIME alphabet
}

TEST(MimeDecode, QuotedPrintableEveryChunkBoundary) {
  const std::string input =
      "caf=C3=A9 cr=e8me=\r\nsoft=\n and padded= \t \r\nbreaks, =3D=3d and a=\r\n"
      "=\r\n=41=\r\r\n1+1=2, x=zz, =G0 =\r=\n=0D=0A\r\nhard\r\nbare\nend=";
  const std::string whole = qp(input);
  EXPECT_EQ(whole, referenceQp(input));
  EXPECT_EQ(whole,
            "caf\xc3\xa9 cr\xe8mesoft and paddedbreaks, == and aA=\r\r\n1+1=2, x=zz, =G0 =\r\r\n"
            "\r\nhard\r\nbare\nend");
  for (std::size_t size = 1; size <= 70; ++size) {
    EXPECT_EQ(chunked<QuotedPrintableDecoder>(input, size), whole) << "chunks of " << size;
  }
}

// RFC 2045 6.7 rule 5: "=" CRLF is a soft line break, with transport padding between them
// (rule 3); a CR alone is not a line end, CRLF after a hard line break stays.
TEST(MimeDecode, QuotedPrintableSoftLineBreaks) {
  EXPECT_EQ(qp("a=\r\nb"), "ab");
  EXPECT_EQ(qp("a=\nb"), "ab");
  EXPECT_EQ(qp("a=  \t\r\nb"), "ab");
  EXPECT_EQ(qp("a=\rb"), "a=\rb");
  EXPECT_EQ(qp("a=\r=\nb"), "a=\rb");
  EXPECT_EQ(qp("a\r\n=\r\n\r\nb"), "a\r\n\r\nb");
  EXPECT_EQ(qp("=\r\n=\r\n=\r\n"), "");
  EXPECT_EQ(qp("a= x\r\n"), "a= x\r\n");  // padding not followed by a line end: kept
  // Transport padding longer than what is held back at a chunk end still decodes whole.
  const std::string padded = "a=" + std::string(2000, ' ') + "\r\nb";
  EXPECT_EQ(chunked<QuotedPrintableDecoder>(padded, padded.size()), "ab");
}

TEST(MimeDecode, FastDecodersMatchReference) {
  std::mt19937 rng(11);
  const std::string qp_alphabet = "=\r\n \tAaFf09Gz";
  const std::string b64_alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGHIJKLMN=\r\n \x80";
  for (int round = 0; round < 300; ++round) {
    std::string q;
    std::string b;
    const std::size_t length = rng() % 3000;
    for (std::size_t i = 0; i < length; ++i) {
      q += rng() % 16 == 0 ? static_cast<char>(rng() % 256)
                           : qp_alphabet[rng() % qp_alphabet.size()];
      b += rng() % 64 == 0 ? static_cast<char>(rng() % 256)
                           : b64_alphabet[rng() % b64_alphabet.size()];
    }
    const std::size_t size = 1 + rng() % 700;
    EXPECT_EQ(chunked<QuotedPrintableDecoder>(q, size), referenceQp(q)) << "chunks of " << size;
    EXPECT_EQ(chunked<Base64Decoder>(b, size), referenceBase64(b)) << "chunks of " << size;
  }
}

}  // namespace
}  // namespace popbridge::mime
