#include "protocols/mime/section.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocols/mime/test_messages.h"

namespace popbridge::mime {
namespace {

using test::crlf;
using test::parseWhole;

const std::string kMsg = crlf(
    "Subject: top\n"
    "Content-Type: multipart/mixed; boundary=a\n\n"
    "--a\n"
    "Content-Type: text/plain\n\n"
    "one\n"
    "--a\n"
    "Content-Type: message/rfc822\n\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=b\n\n"
    "--b\n\n"
    "inner one\n"
    "--b\n"
    "Content-Type: text/html\n\n"
    "<p>two</p>\n"
    "--b--\n"
    "--a\n"
    "Content-Type: message/rfc822\n\n"
    "Subject: single\n\n"
    "single body\n"
    "--a--\n");

std::string get(const Message& m, std::string_view path, SectionText what) {
  auto p = parseSectionPath(path);
  EXPECT_TRUE(p) << path;
  auto r = sectionRange(m, *p, what);
  if (!r) return "<" + r.error().message + ">";
  return kMsg.substr(static_cast<std::size_t>(r->offset), static_cast<std::size_t>(r->length));
}

TEST(MimeSection, PathSyntax) {
  EXPECT_EQ(*parseSectionPath(""), (std::vector<std::uint32_t>{}));
  EXPECT_EQ(*parseSectionPath("1.22.3"), (std::vector<std::uint32_t>{1, 22, 3}));
  for (std::string_view bad : {"0", "1.", ".1", "1..2", "01", "x", "1.a", "99999999999"}) {
    EXPECT_FALSE(parseSectionPath(bad)) << bad;
  }
}

TEST(MimeSection, RangesFollowRfc3501Numbering) {
  Message m = parseWhole(kMsg);
  EXPECT_EQ(get(m, "1", SectionText::Body), "one");
  EXPECT_EQ(get(m, "1", SectionText::Mime), crlf("Content-Type: text/plain\n\n"));
  EXPECT_EQ(get(m, "2", SectionText::Header),
            crlf("Subject: inner\nContent-Type: multipart/alternative; boundary=b\n\n"));
  EXPECT_EQ(get(m, "2.1", SectionText::Body), "inner one");
  EXPECT_EQ(get(m, "2.2", SectionText::Body), "<p>two</p>");
  EXPECT_EQ(get(m, "2.2", SectionText::Mime), crlf("Content-Type: text/html\n\n"));
  // A non-multipart embedded message: part 1 is its body.
  EXPECT_EQ(get(m, "3.1", SectionText::Body), "single body");
  EXPECT_EQ(get(m, "3", SectionText::Text), "single body");
  EXPECT_EQ(get(m, "", SectionText::Header).substr(0, 14), "Subject: top\r\n");
}

TEST(MimeSection, Errors) {
  Message m = parseWhole(kMsg);
  auto code = [&](std::string_view path, SectionText what) {
    auto r = sectionRange(m, *parseSectionPath(path), what);
    return r ? std::string("ok") : std::to_string(static_cast<int>(r.error().code));
  };
  auto num = [](SectionError::Code c) { return std::to_string(static_cast<int>(c)); };
  EXPECT_EQ(code("4", SectionText::Body), num(SectionError::Code::NoSuchPart));
  // As in Dovecot, a trailing ".1" on a single body names that body again; nothing else does.
  EXPECT_EQ(code("1.1", SectionText::Body), "ok");
  EXPECT_EQ(code("1.2", SectionText::Body), num(SectionError::Code::NoSuchPart));
  EXPECT_EQ(code("1.1.1", SectionText::Body), num(SectionError::Code::NoSuchPart));
  EXPECT_EQ(code("1", SectionText::Header), num(SectionError::Code::NotMessage));
  EXPECT_EQ(code("", SectionText::Mime), num(SectionError::Code::MimeOnTop));
  EXPECT_EQ(code("2.3", SectionText::Body), num(SectionError::Code::NoSuchPart));
}

TEST(MimeSection, SinglePartMessage) {
  std::string data = crlf("Subject: s\n\nbody\n");
  Message m = parseWhole(data);
  auto r = sectionRange(m, *parseSectionPath("1"), SectionText::Body);
  ASSERT_TRUE(r);
  EXPECT_EQ(data.substr(static_cast<std::size_t>(r->offset)), crlf("body\n"));
  EXPECT_FALSE(sectionRange(m, *parseSectionPath("2"), SectionText::Body));
  EXPECT_FALSE(sectionRange(m, *parseSectionPath("1.1"), SectionText::Body));
}

}  // namespace
}  // namespace popbridge::mime
