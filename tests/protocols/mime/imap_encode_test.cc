#include "protocols/mime/imap_encode.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocols/mime/test_messages.h"

namespace popbridge::mime {
namespace {

using test::bodyStructure;
using test::crlf;
using test::envelope;
using test::parseWhole;

std::string str(std::string_view v) {
  std::string out;
  appendString(out, v);
  return out;
}

TEST(MimeEncode, StringsQuotedOrLiteral) {
  EXPECT_EQ(str("abc"), "\"abc\"");
  EXPECT_EQ(str(""), "\"\"");
  EXPECT_EQ(str("a\"b\\c"), "\"a\\\"b\\\\c\"");
  // Past four quoted-specials a literal is used, as Dovecot does.
  EXPECT_EQ(str("\"\"\"\"\""), "{5}\r\n\"\"\"\"\"");
  EXPECT_EQ(str("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(str("caf\xC3\xA9"), "{5}\r\ncaf\xC3\xA9");
  // NUL cannot travel in an IMAP literal: U+FFFD stands in.
  EXPECT_EQ(str(std::string_view("a\0b", 3)),
            "{5}\r\na\xEF\xBF\xBD"
            "b");
  std::string nil;
  appendNString(nil, std::nullopt);
  EXPECT_EQ(nil, "NIL");
}

TEST(MimeEncode, NoLfUnfolds) {
  std::string out;
  appendNStringNoLf(out, std::string("<a@b>\n <c@d>"));
  EXPECT_EQ(out, "\"<a@b> <c@d>\"");
  out.clear();
  appendNStringNoLf(out, std::string("x\ny"));
  EXPECT_EQ(out, "\"x y\"");
}

TEST(MimeEncode, ForHumans) {
  auto humans = [](std::string_view v) {
    std::string out;
    appendStringForHumans(out, v);
    return out;
  };
  EXPECT_EQ(humans("plain words"), "\"plain words\"");
  EXPECT_EQ(humans("  \t "), "\"\"");
  EXPECT_EQ(humans(" a\t b\n  c "), "{5}\r\na b c");
  EXPECT_EQ(humans("say \"hi\""), "{8}\r\nsay \"hi\"");
}

TEST(MimeEncode, EnvelopeDefaultsAndGroups) {
  Message m =
      parseWhole(crlf("Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
                      "Subject: Re: hello\n"
                      "From: \"Joe Q. Public\" <joe@example.com>\n"
                      "To: Team: a@example.com, B <b@example.com>;, solo@example.com, Empty:;\n"
                      "Cc: user@host (Comment Name)\n"
                      "In-Reply-To: <x@y>\n"
                      "Message-ID: <id@example.com>\n\n"));
  EXPECT_EQ(
      envelope(m),
      "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"Re: hello\" "
      "((\"Joe Q. Public\" NIL \"joe\" \"example.com\")) "
      "((\"Joe Q. Public\" NIL \"joe\" \"example.com\")) "
      "((\"Joe Q. Public\" NIL \"joe\" \"example.com\")) "
      "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"example.com\")(\"B\" NIL \"b\" \"example.com\")"
      "(NIL NIL NIL NIL)(NIL NIL \"solo\" \"example.com\")(NIL NIL \"Empty\" NIL)"
      "(NIL NIL NIL NIL)) "
      "((\"Comment Name\" NIL \"user\" \"host\")) NIL \"<x@y>\" \"<id@example.com>\")");
}

TEST(MimeEncode, BrokenAddressesAreFilledIn) {
  Message m = parseWhole(crlf("From: just-a-name, <>, @host.example\n\n"));
  // A lone word is taken as a mailbox without domain (as Dovecot reports it).
  EXPECT_EQ(envelope(m).substr(0, 138),
            "(NIL NIL ((NIL NIL \"just-a-name\" \"MISSING_DOMAIN\")"
            "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
            "(NIL NIL \"MISSING_MAILBOX\" \"host.example\")) ");
}

TEST(MimeEncode, BodyStructureExtensionData) {
  Message m =
      parseWhole(crlf("MIME-Version: 1.0\n"
                      "Content-Type: multipart/mixed; boundary=x\n\n"
                      "--x\n"
                      "Content-Type: application/pdf; name=\"r.pdf\"\n"
                      "Content-Transfer-Encoding: base64\n"
                      "Content-Disposition: attachment; filename=\"r.pdf\"\n"
                      "Content-ID: <p1@x>\n"
                      "Content-Description: Report\n"
                      "Content-MD5: abc=\n"
                      "Content-Language: en, de\n"
                      "Content-Location: http://x/\n\n"
                      "QUJD\n"
                      "--x--\n"));
  EXPECT_EQ(bodyStructure(m),
            R"((("application" "pdf" ("name" "r.pdf") "<p1@x>" "Report" "base64" 4 "abc=")"
            R"( ("attachment" ("filename" "r.pdf")) ("en" "de") "http://x/") "mixed")"
            R"( ("boundary" "x") NIL NIL NIL))");
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"((("application" "pdf" ("name" "r.pdf") "<p1@x>" "Report" "base64" 4) "mixed"))");
}

TEST(MimeEncode, MultipartWithoutPartsReportsOneEmptyTextPart) {
  Message m = parseWhole(crlf("Content-Type: multipart/mixed; boundary=n\n\n--n--\n"));
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed"))");
}

TEST(MimeEncode, OverflowedMessageIsOpaque) {
  Limits limits;
  limits.max_depth = 1;
  Message m = parseWhole(
      crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\n"
           "Subject: x\n\ny\n--o--\n"),
      limits);
  EXPECT_EQ(bodyStructure(m, Extended::No),
            R"((("application" "octet-stream" NIL NIL NIL "7bit" 15) "mixed"))");
}

TEST(MimeEncode, DeepNestingNeedsNoRecursion) {
  // Built by hand (the parser would stop at its depth limit): 100000 nested multiparts.
  Message m;
  m.parts.resize(100000);
  for (std::uint32_t i = 0; i < m.parts.size(); ++i) {
    m.parts[i].kind = PartKind::Multipart;
    m.parts[i].subtype = "mixed";
    if (i > 0) {
      m.parts[i].parent = i - 1;
      m.parts[i - 1].children.push_back(i);
    }
  }
  m.parts[0].envelope = Envelope{};
  std::string out;
  appendBodyStructure(out, m, Extended::No);
  EXPECT_EQ(
      out.size(),
      100000 * std::string(R"(( "mixed"))").size() +
          std::string(R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0))").size());
}

}  // namespace
}  // namespace popbridge::mime
