#include "protocols/imap/commands/fetch.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;

FetchArgs fetch(const std::string& items) {
  Command command = readOneCommand("f1 FETCH 1:* " + items + "\r\n");
  EXPECT_EQ(command.name, "FETCH");
  if (auto* args = std::get_if<FetchArgs>(&command.args)) {
    return *args;
  }
  return {};
}

FetchAtt one(const std::string& item) {
  FetchArgs args = fetch(item);
  EXPECT_EQ(args.atts.size(), 1u) << item;
  return args.atts.empty() ? FetchAtt{} : args.atts[0];
}

TEST(FetchTest, SimpleItems) {
  const std::pair<const char*, FetchAtt::Kind> cases[] = {
      {"UID", FetchAtt::Kind::Uid},
      {"flags", FetchAtt::Kind::Flags},
      {"INTERNALDATE", FetchAtt::Kind::InternalDate},
      {"RFC822.SIZE", FetchAtt::Kind::Rfc822Size},
      {"ENVELOPE", FetchAtt::Kind::Envelope},
      {"BODYSTRUCTURE", FetchAtt::Kind::BodyStructure},
      {"BODY", FetchAtt::Kind::Body},
      {"RFC822", FetchAtt::Kind::Rfc822},
      {"rfc822.header", FetchAtt::Kind::Rfc822Header},
      {"RFC822.TEXT", FetchAtt::Kind::Rfc822Text},
      {"MODSEQ", FetchAtt::Kind::ModSeq},
      {"emailid", FetchAtt::Kind::EmailId},
      {"THREADID", FetchAtt::Kind::ThreadId},
  };
  for (const auto& [text, kind] : cases) {
    FetchAtt att = one(text);
    EXPECT_EQ(att.kind, kind) << text;
    EXPECT_FALSE(att.peek);
    EXPECT_FALSE(att.partial);
  }
}

TEST(FetchTest, MacrosExpand) {
  auto kinds = [](const FetchArgs& args) {
    std::vector<FetchAtt::Kind> out;
    for (const auto& att : args.atts) {
      out.push_back(att.kind);
    }
    return out;
  };
  using K = FetchAtt::Kind;
  EXPECT_EQ(kinds(fetch("ALL")),
            (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope}));
  EXPECT_EQ(kinds(fetch("fast")), (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size}));
  EXPECT_EQ(kinds(fetch("FULL")),
            (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope, K::Body}));
  // Macros are not fetch-atts: not allowed inside a list.
  EXPECT_EQ(readOneError("f FETCH 1 (ALL)\r\n").kind, ParseError::Kind::Bad);
}

TEST(FetchTest, ListOfItems) {
  FetchArgs args = fetch(
      "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID "
      "Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])");
  ASSERT_EQ(args.atts.size(), 4u);
  EXPECT_EQ(args.atts[3].kind, FetchAtt::Kind::BodySection);
  EXPECT_TRUE(args.atts[3].peek);
  EXPECT_EQ(args.atts[3].section.text, Section::Text::HeaderFields);
  EXPECT_EQ(args.atts[3].section.fields.size(), 14u);
  EXPECT_EQ(args.atts[3].section.fields[6], "Message-ID");
}

TEST(FetchTest, BodySections) {
  FetchAtt whole = one("BODY[]");
  EXPECT_EQ(whole.kind, FetchAtt::Kind::BodySection);
  EXPECT_FALSE(whole.peek);
  EXPECT_TRUE(whole.section.part.empty());
  EXPECT_EQ(whole.section.text, Section::Text::Full);

  FetchAtt header = one("body.peek[header]");
  EXPECT_TRUE(header.peek);
  EXPECT_EQ(header.section.text, Section::Text::Header);

  FetchAtt text = one("BODY[TEXT]");
  EXPECT_EQ(text.section.text, Section::Text::Text);

  FetchAtt part = one("BODY[1.2.3]");
  EXPECT_EQ(part.section.part, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(part.section.text, Section::Text::Full);

  FetchAtt mime = one("BODY[2.MIME]");
  EXPECT_EQ(mime.section.part, (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(mime.section.text, Section::Text::Mime);

  FetchAtt part_header = one("BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received)]");
  EXPECT_EQ(part_header.section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(part_header.section.text, Section::Text::HeaderFieldsNot);
  EXPECT_EQ(part_header.section.fields, (std::vector<std::string>{"Received"}));

  FetchAtt partial = one("BODY[HEADER.FIELDS (From To)]<0.100>");
  EXPECT_EQ(partial.section.fields, (std::vector<std::string>{"From", "To"}));
  ASSERT_TRUE(partial.partial);
  EXPECT_EQ(partial.partial->offset, 0u);
  EXPECT_EQ(partial.partial->length, 100u);

  FetchAtt big = one("BODY.PEEK[]<4294967296.9000000000>");
  EXPECT_EQ(big.partial->offset, 4294967296u);
  EXPECT_EQ(big.partial->length, 9000000000u);
}

TEST(FetchTest, HeaderFieldNamesMayBeStringsAndLiterals) {
  Command command = readOneCommand("f FETCH 1 (BODY[HEADER.FIELDS (\"From\" {2}\r\nTo)])\r\n");
  const auto& att = std::get<FetchArgs>(command.args).atts.at(0);
  EXPECT_EQ(att.section.fields, (std::vector<std::string>{"From", "To"}));
}

TEST(FetchTest, BinaryItems) {
  FetchAtt binary = one("BINARY[1]");
  EXPECT_EQ(binary.kind, FetchAtt::Kind::Binary);
  EXPECT_FALSE(binary.peek);
  FetchAtt peek = one("BINARY.PEEK[1.2]<10.20>");
  EXPECT_EQ(peek.kind, FetchAtt::Kind::BinaryPeek);
  EXPECT_TRUE(peek.peek);
  EXPECT_EQ(peek.section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(peek.partial->offset, 10u);
  FetchAtt size = one("BINARY.SIZE[3]");
  EXPECT_EQ(size.kind, FetchAtt::Kind::BinarySize);
  FetchAtt whole = one("BINARY[]");
  EXPECT_TRUE(whole.section.part.empty());
}

TEST(FetchTest, Modifiers) {
  FetchArgs changed = fetch("(FLAGS) (CHANGEDSINCE 12345)");
  EXPECT_EQ(changed.changed_since, 12345u);
  EXPECT_FALSE(changed.vanished);
  Command vanished = readOneCommand("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)\r\n");
  EXPECT_TRUE(std::get<FetchArgs>(vanished.args).vanished);
  EXPECT_EQ(readOneError("f FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)\r\n").kind,
            ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("f UID FETCH 1:* (FLAGS) (VANISHED)\r\n").kind, ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("f FETCH 1 FLAGS (FOO 1)\r\n").kind, ParseError::Kind::Bad);
}

TEST(FetchTest, SyntaxErrors) {
  for (const char* bad : {
           "f FETCH 1\r\n",
           "f FETCH 1 \r\n",
           "f FETCH 0 FLAGS\r\n",
           "f FETCH 1 FLAG\r\n",
           "f FETCH 1 (FLAGS\r\n",
           "f FETCH 1 (FLAGS UID\r\n",
           "f FETCH 1 (FLAGS  UID)\r\n",
           "f FETCH 1 BODY[\r\n",
           "f FETCH 1 BODY[MIME]\r\n",
           "f FETCH 1 BODY[0]\r\n",
           "f FETCH 1 BODY[1.]\r\n",
           "f FETCH 1 BODY[HEADER.FIELDS]\r\n",
           "f FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
           "f FETCH 1 BODY[HEADER.FIELDS (From]\r\n",
           "f FETCH 1 BODY[]<0>\r\n",
           "f FETCH 1 BODY[]<0.0>\r\n",
           "f FETCH 1 BODY[]<1.2\r\n",
           "f FETCH 1 BODY.PEEK\r\n",
           "f FETCH 1 BINARY[TEXT]\r\n",
           "f FETCH 1 BINARY.SIZE[1]<0.1>\r\n",
           "f FETCH 1 UID[]\r\n",
           "f FETCH 1 FLAGS junk\r\n",
           "f FETCH * ENVELOPE ENVELOPE\r\n",
       }) {
    ParseError error = readOneError(bad);
    EXPECT_EQ(error.kind, ParseError::Kind::Bad) << bad;
    EXPECT_EQ(error.tag, "f") << bad;
  }
}

}  // namespace
}  // namespace popbridge::imap
