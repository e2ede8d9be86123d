#include "protocols/mime/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/mime/section.h"
#include "tests/protocols/mime/test_messages.h"

namespace popbridge::mime {
namespace {

using test::bodyStructure;
using test::crlf;
using test::envelope;
using test::parseBytewise;
using test::parseSplit;
using test::parseWhole;

std::string slice(const std::string& data, std::uint64_t off, std::uint64_t len) {
  return data.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(len));
}

const std::string kAlternative = crlf(
    "From: a@example.com\n"
    "Subject: alt\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n"
    "\n"
    "preamble\n"
    "--b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "plain\n"
    "--b1\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<b>x</b>\n"
    "two\n"
    "--b1--\n"
    "epilogue\n");

const std::string kNestedWithMessage = crlf(
    "From: n@example.com\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "default text\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inside\n"
    "From: Inner <in@example.com>\n"
    "\n"
    "inner body\n"
    "--outer--\n");

// Messages for the whole/bytewise/split equivalence test.
std::vector<std::string> corpus() {
  return {
      kAlternative,
      kNestedWithMessage,
      crlf("Subject: no content type\n\nbody\n"),
      crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\n\nfirst\n"
           "--m\nContent-Type: text/plain\n\nnever closed\n"),
      "Subject: bare\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nline\n--x--\n",
      crlf("Content-Type: multipart/mixed; boundary=\"a b\"\n\n--a b\n\nx\n--a b--"),
      crlf("Content-Type: multipart/mixed; boundary=h\n\n--h\nContent-Type: text/plain\n--h\n"
           "Content-Type: message/rfc822\n\n--h--\n"),
      crlf("To: G: a@b.c, d@e.f;, x@y.z\nSubject: groups\n\n"),
      "From: only@header.example",
      "\r\n",
      "",
      crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\n1\n--d--\n"),
  };
}

TEST(MimeParser, SameResultWholeBytewiseAndSplitAtEveryOffset) {
  for (const std::string& data : corpus()) {
    Message whole = parseWhole(data);
    EXPECT_EQ(whole, parseBytewise(data)) << data;
    for (std::size_t at = 0; at <= data.size(); ++at) {
      ASSERT_EQ(whole, parseSplit(data, at)) << "split at " << at << " of:\n" << data;
    }
    EXPECT_EQ(whole.size, data.size());
  }
}

TEST(MimeParser, PlainMessageIsOneTextPart) {
  std::string data = crlf("From: a@example.com\nSubject: hi\n\nline 1\nline 2\n");
  Message m = parseWhole(data);
  ASSERT_EQ(m.parts.size(), 1u);
  const Part& p = m.root();
  EXPECT_EQ(p.kind, PartKind::Leaf);
  EXPECT_FALSE(p.type);
  EXPECT_EQ(slice(data, p.header_offset, p.header_length),
            crlf("From: a@example.com\nSubject: hi\n\n"));
  EXPECT_EQ(slice(data, p.body_offset, p.body_length), crlf("line 1\nline 2\n"));
  EXPECT_EQ(p.body_lines, 2u);
  EXPECT_EQ(p.body_octets, 16u);
  EXPECT_EQ(bodyStructure(m),
            R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 16 2 NIL NIL NIL NIL))");
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 16 2))");
}

TEST(MimeParser, ContentFieldsWithoutMimeVersionOrContentTypeAreIgnored) {
  Message m = parseWhole(crlf(
      "Content-Transfer-Encoding: base64\nContent-Description: nope\nContent-ID: <x>\n\nbody\n"));
  EXPECT_FALSE(m.root().encoding);
  EXPECT_FALSE(m.root().description);
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1))");
}

TEST(MimeParser, AlternativeStructureAndRanges) {
  Message m = parseWhole(kAlternative);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.root().kind, PartKind::Multipart);
  EXPECT_EQ(m.root().children, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(bodyStructure(m),
            R"((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 0 NIL NIL NIL NIL))"
            R"(("text" "html" ("charset" "us-ascii") NIL NIL "quoted-printable" 13 1 NIL NIL NIL)"
            R"( NIL) "alternative" ("boundary" "b1") NIL NIL NIL))");
  const Part& plain = m.parts[1];
  // RFC 2046 5.1.1: the CRLF before "--b1" belongs to the delimiter, not to the part.
  EXPECT_EQ(slice(kAlternative, plain.body_offset, plain.body_length), "plain");
  EXPECT_EQ(slice(kAlternative, plain.header_offset, plain.header_length),
            crlf("Content-Type: text/plain; charset=utf-8\n\n"));
  const Part& html = m.parts[2];
  EXPECT_EQ(slice(kAlternative, html.body_offset, html.body_length), crlf("<b>x</b>\ntwo"));
  // The multipart's body runs from the preamble to the end of the epilogue.
  EXPECT_EQ(m.root().body_offset + m.root().body_length, kAlternative.size());
}

TEST(MimeParser, NestedMultipartAndEmbeddedMessage) {
  Message m = parseWhole(kNestedWithMessage);
  ASSERT_EQ(m.parts.size(), 5u);
  EXPECT_EQ(m.parts[1].kind, PartKind::Multipart);
  EXPECT_EQ(m.parts[3].kind, PartKind::Message);
  ASSERT_EQ(m.parts[3].children.size(), 1u);
  const Part& inner = m.parts[4];
  ASSERT_TRUE(inner.envelope);
  EXPECT_EQ(inner.envelope->subject, "inside");
  EXPECT_EQ(slice(kNestedWithMessage, inner.body_offset, inner.body_length), "inner body");
  EXPECT_EQ(slice(kNestedWithMessage, m.parts[3].body_offset, m.parts[3].body_length),
            crlf("Subject: inside\nFrom: Inner <in@example.com>\n\ninner body"));
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"(((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0) "alternative"))"
            R"(("message" "rfc822" NIL NIL NIL "7bit" 59 (NIL "inside" (("Inner" NIL "in")"
            R"( "example.com")) (("Inner" NIL "in" "example.com")) (("Inner" NIL "in")"
            R"( "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii"))"
            R"( NIL NIL "7bit" 10 0) 3) "mixed"))");
}

TEST(MimeParser, MissingFinalBoundaryEndsPartsAtEndOfMessage) {
  std::string data =
      crlf("Content-Type: multipart/mixed; boundary=m\n\n--m\n\nfirst\n--m\n\nsecond, open\n");
  Message m = parseWhole(data);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(slice(data, m.parts[2].body_offset, m.parts[2].body_length), crlf("second, open\n"));
  EXPECT_EQ(m.parts[2].body_offset + m.parts[2].body_length, data.size());
}

TEST(MimeParser, BareLfCountsAsCrlfInSizes) {
  std::string data = "Content-Type: text/plain\n\none\ntwo\n";
  Message m = parseWhole(data);
  EXPECT_EQ(m.root().body_length, 8u);
  EXPECT_EQ(m.root().body_octets, 10u);
  EXPECT_EQ(m.root().body_lines, 2u);
}

TEST(MimeParser, BoundaryInsideAPartHeaderEndsThatHeader) {
  std::string data = crlf(
      "Content-Type: multipart/mixed; boundary=h\n\n--h\nContent-Type: text/plain\n--h\n"
      "Content-Type: message/rfc822\n\n--h--\n");
  Message m = parseWhole(data);
  ASSERT_EQ(m.parts.size(), 4u);
  // Part 1's header loses the newline before the delimiter; its body is empty.
  EXPECT_EQ(slice(data, m.parts[1].header_offset, m.parts[1].header_length),
            "Content-Type: text/plain");
  EXPECT_EQ(m.parts[1].body_length, 0u);
  // Part 2 is message/rfc822 cut short: it still has its (empty) embedded message.
  EXPECT_EQ(m.parts[2].kind, PartKind::Message);
  EXPECT_EQ(m.parts[2].header_length, std::string("Content-Type: message/rfc822\r\n").size());
  EXPECT_EQ(m.parts[3].header_length, 0u);
  EXPECT_EQ(m.parts[3].body_length, 0u);
}

TEST(MimeParser, HeaderWithoutBlankLineIsAllHeader) {
  std::string data = "From: a@b.example\r\nSubject: x";
  Message m = parseWhole(data);
  EXPECT_EQ(m.root().header_length, data.size());
  EXPECT_EQ(m.root().body_length, 0u);
  EXPECT_EQ(m.envelope().subject, "x");
}

TEST(MimeParser, EmptyMessage) {
  Message m = parseWhole("");
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(envelope(m), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0))");
}

TEST(MimeParser, Rfc2231ParametersAreJoined) {
  Message m =
      parseWhole(crlf("MIME-Version: 1.0\nContent-Type: application/x; name*0=\"a \"; name*1=b;\n"
                      " title*0*=us-ascii'en'x%20y; title*1=\"%z\"\n"
                      "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt\n\nx\n"));
  EXPECT_EQ(m.root().params,
            (std::vector<Param>{{"name", "a b"}, {"title*", "us-ascii'en'x%20y%25z"}}));
  EXPECT_EQ(m.root().disposition, "attachment");
  EXPECT_EQ(m.root().disposition_params,
            (std::vector<Param>{{"filename*", "utf-8''%E2%82%AC.txt"}}));
}

TEST(MimeParser, DepthLimitLeavesAWellFormedOpaqueLeaf) {
  std::string data;
  for (int i = 0; i < 6; ++i) {
    data += "Content-Type: multipart/mixed; boundary=d" + std::to_string(i) + "\r\n\r\n--d" +
            std::to_string(i) + "\r\n";
  }
  data += "\r\ntext\r\n";
  Limits limits;
  limits.max_depth = 3;
  Message m = parseWhole(data, limits);
  ASSERT_EQ(m.parts.size(), 4u);  // depths 0..3; the part at depth 3 is not split
  EXPECT_TRUE(m.parts[3].overflow);
  EXPECT_EQ(m.parts[3].kind, PartKind::Leaf);
  EXPECT_EQ(m.parts[3].body_offset + m.parts[3].body_length, data.size());
  std::string bs = bodyStructure(m);
  EXPECT_EQ(bs.substr(0, 5), "((((\"");
  EXPECT_NE(bs.find(R"(("multipart" "mixed" ("boundary" "d3") NIL NIL "7bit")"), std::string::npos);
  EXPECT_EQ(m, parseBytewise(data, limits));
}

TEST(MimeParser, PartLimitTurnsFurtherDelimitersIntoContent) {
  std::string data = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 10; ++i) data += "--p\r\n\r\npart\r\n";
  data += "--p--\r\n";
  Limits limits;
  limits.max_parts = 4;
  Message m = parseWhole(data, limits);
  ASSERT_EQ(m.parts.size(), 4u);
  // The last part runs up to the close delimiter, swallowing the delimiters past the limit.
  const Part& last = m.parts[3];
  EXPECT_EQ(slice(data, last.body_offset, last.body_length).find("--p\r\n"), 6u);
  EXPECT_EQ(m, parseBytewise(data, limits));
}

TEST(MimeParser, HeaderLimitKeepsRangesExact) {
  std::string data = "Subject: kept\r\nX-Big: " + std::string(300, 'x') +
                     "\r\nContent-Type: text/html\r\n\r\nbody";
  Limits limits;
  limits.max_header_bytes = 100;
  Message m = parseWhole(data, limits);
  EXPECT_EQ(m.envelope().subject, "kept");
  EXPECT_FALSE(m.root().type);  // past the limit: not interpreted
  EXPECT_EQ(slice(data, m.root().body_offset, m.root().body_length), "body");
  EXPECT_EQ(m, parseBytewise(data, limits));
}

TEST(MimeParser, DigestDefaultsToMessageRfc822) {
  Message m = parseWhole(
      crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\n1\n--d--\n"));
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].kind, PartKind::Message);
  EXPECT_EQ(m.parts[2].envelope->subject, "one");
}

TEST(MimeParser, EightBitHeadersBecomeLiterals) {
  Message m = parseWhole(
      "Subject: Gr\xC3\xBC\xC3\x9F"
      "e\r\nFrom: J\xC3\xBCrgen <j@x.example>\r\n\r\n");
  EXPECT_EQ(envelope(m),
            "(NIL {7}\r\nGr\xC3\xBC\xC3\x9F"
            "e (({7}\r\nJ\xC3\xBCrgen NIL \"j\" \"x.example\")) "
            "(({7}\r\nJ\xC3\xBCrgen NIL \"j\" \"x.example\")) "
            "(({7}\r\nJ\xC3\xBCrgen NIL \"j\" \"x.example\")) NIL NIL NIL NIL NIL)");
}

TEST(MimeParser, FeedAfterFinishIsIgnored) {
  Parser p;
  p.feed("Subject: x\r\n\r\n");
  Message m = p.finish();
  p.feed("more");
  EXPECT_EQ(m.size, 14u);
}

}  // namespace
}  // namespace popbridge::mime
