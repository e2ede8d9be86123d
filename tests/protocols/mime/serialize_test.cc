#include "protocols/mime/serialize.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/protocols/mime/test_messages.h"

namespace popbridge::mime {
namespace {

using test::bodyStructure;
using test::crlf;
using test::envelope;
using test::parseWhole;

const std::string kRich = crlf(
    "From: \"A\" <a@example.com>, G: x@y.z;\n"
    "To: b@example.com\n"
    "Subject: rich\n"
    "Date: Tue, 2 Jan 2024 10:00:00 +0100\n"
    "Message-ID: <m@x>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=r\n\n"
    "--r\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Language: en\n"
    "Content-Location: here\n\n"
    "hi\n"
    "--r\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: inline; x=y\n"
    "Content-ID: <i>\n"
    "Content-Description: d\n"
    "Content-MD5: m\n"
    "Content-Transfer-Encoding: 8bit\n\n"
    "Subject: in\n\nx\n"
    "--r--\n");

TEST(MimeSerialize, RoundTrip) {
  for (const std::string& data :
       {kRich, std::string(), std::string("\r\n"), crlf("Subject: only\n\nbody\n")}) {
    Message m = parseWhole(data);
    std::string blob = serialize(m);
    auto back = deserialize(blob);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, m);
    EXPECT_EQ(bodyStructure(*back), bodyStructure(m));
    EXPECT_EQ(envelope(*back), envelope(m));
    EXPECT_EQ(serialize(*back), blob);
  }
}

TEST(MimeSerialize, RejectsWhatIsNotABlob) {
  EXPECT_EQ(deserialize("").error().code, Error::Code::BadMagic);
  EXPECT_EQ(deserialize("XYZ\x01").error().code, Error::Code::BadMagic);
  EXPECT_EQ(deserialize(std::string("PBM\x02", 4)).error().code, Error::Code::BadVersion);
  std::string blob = serialize(parseWhole(kRich));
  EXPECT_EQ(deserialize(blob + "x").error().code, Error::Code::Corrupt);
}

TEST(MimeSerialize, EveryTruncationAndByteFlipIsHandled) {
  std::string blob = serialize(parseWhole(kRich));
  for (std::size_t n = 0; n < blob.size(); ++n) {
    EXPECT_FALSE(deserialize(std::string_view(blob).substr(0, n))) << n;
  }
  // Flipped bytes either fail cleanly or give a structure the encoders can walk.
  for (std::size_t i = 4; i < blob.size(); ++i) {
    for (unsigned x : {0x01u, 0x80u, 0xffu}) {
      std::string bad = blob;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ x);
      auto m = deserialize(bad);
      if (m) {
        std::string out;
        appendBodyStructure(out, *m, Extended::Yes);
        appendEnvelope(out, *m);
        EXPECT_FALSE(out.empty());
      }
    }
  }
}

TEST(MimeSerialize, RejectsBadTreeShapes) {
  Message m = parseWhole(kRich);
  Message leaf_with_child = m;
  leaf_with_child.parts[0].kind = PartKind::Leaf;
  EXPECT_EQ(deserialize(serialize(leaf_with_child)).error().code, Error::Code::Corrupt);
  Message out_of_range = m;
  out_of_range.size = 10;
  EXPECT_EQ(deserialize(serialize(out_of_range)).error().code, Error::Code::Corrupt);
}

}  // namespace
}  // namespace popbridge::mime
