#include "proxy/tls/digest.h"

#include <gtest/gtest.h>

namespace popbridge::proxy::tls {
namespace {

TEST(Md5, Rfc1321Vectors) {
  EXPECT_EQ(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(
      md5Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
      "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, Rfc1939ApopExample) {
  // RFC 1939 section 7: greeting timestamp plus the shared secret "tanstaaf".
  EXPECT_EQ(md5Hex("<1896.697170952@dbc.mtview.ca.us>tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb");
}

}  // namespace
}  // namespace popbridge::proxy::tls
