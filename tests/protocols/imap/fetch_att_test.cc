#include "protocols/imap/fetch_att.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

// Parses "FETCH 1 <item>" and returns the response item name.
std::string itemName(const std::string& item) {
  Command command = test::readOneCommand("n FETCH 1 " + item + "\r\n");
  const auto& atts = std::get<FetchArgs>(command.args).atts;
  EXPECT_EQ(atts.size(), 1u) << item;
  return atts.empty() ? "" : fetchItemName(atts[0]);
}

TEST(FetchItemNameTest, SimpleNames) {
  EXPECT_EQ(itemName("uid"), "UID");
  EXPECT_EQ(itemName("FLAGS"), "FLAGS");
  EXPECT_EQ(itemName("INTERNALDATE"), "INTERNALDATE");
  EXPECT_EQ(itemName("rfc822.size"), "RFC822.SIZE");
  EXPECT_EQ(itemName("ENVELOPE"), "ENVELOPE");
  EXPECT_EQ(itemName("BODYSTRUCTURE"), "BODYSTRUCTURE");
  EXPECT_EQ(itemName("BODY"), "BODY");
  EXPECT_EQ(itemName("RFC822"), "RFC822");
  EXPECT_EQ(itemName("RFC822.HEADER"), "RFC822.HEADER");
  EXPECT_EQ(itemName("RFC822.TEXT"), "RFC822.TEXT");
  EXPECT_EQ(itemName("MODSEQ"), "MODSEQ");
}

TEST(FetchItemNameTest, SectionsAnswerWithoutPeekAndWithOriginOnly) {
  EXPECT_EQ(itemName("BODY[HEADER.FIELDS (From To)]<0.100>"), "BODY[HEADER.FIELDS (FROM TO)]<0>");
  EXPECT_EQ(itemName("BODY.PEEK[]"), "BODY[]");
  EXPECT_EQ(itemName("body.peek[header]"), "BODY[HEADER]");
  EXPECT_EQ(itemName("BODY[1.2.TEXT]<512.1024>"), "BODY[1.2.TEXT]<512>");
  EXPECT_EQ(itemName("BODY[3.MIME]"), "BODY[3.MIME]");
  EXPECT_EQ(itemName("BODY[1.2]"), "BODY[1.2]");
  EXPECT_EQ(itemName("BODY.PEEK[2.HEADER.FIELDS.NOT (Received X-Spam)]"),
            "BODY[2.HEADER.FIELDS.NOT (RECEIVED X-SPAM)]");
  EXPECT_EQ(itemName("BINARY.PEEK[1]<0.10>"), "BINARY[1]<0>");
  EXPECT_EQ(itemName("BINARY[]"), "BINARY[]");
  EXPECT_EQ(itemName("BINARY.SIZE[4.1]"), "BINARY.SIZE[4.1]");
}

TEST(FetchItemNameTest, OddFieldNamesStayParseable) {
  FetchAtt att{FetchAtt::Kind::BodySection, false, {}, {}};
  att.section.text = Section::Text::HeaderFields;
  att.section.fields = {"a b", "nil"};
  EXPECT_EQ(fetchItemName(att), "BODY[HEADER.FIELDS (\"A B\" \"NIL\")]");
}

TEST(FetchAttTextTest, RequestForm) {
  FetchAtt att{FetchAtt::Kind::BodySection, true, {}, Partial{5, 10}};
  att.section.part = {1};
  att.section.text = Section::Text::HeaderFields;
  att.section.fields = {"From"};
  EXPECT_EQ(fetchAttText(att), "BODY.PEEK[1.HEADER.FIELDS (From)]<5.10>");
  EXPECT_EQ(fetchAttText(FetchAtt{FetchAtt::Kind::BinaryPeek, true, {}, {}}), "BINARY.PEEK[]");
  EXPECT_EQ(fetchAttText(FetchAtt{FetchAtt::Kind::Rfc822Size, false, {}, {}}), "RFC822.SIZE");
}

}  // namespace
}  // namespace popbridge::imap
