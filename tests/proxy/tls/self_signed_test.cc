#include "proxy/tls/self_signed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace popbridge::proxy::tls {
namespace {

using ::testing::HasSubstr;

TEST(SelfSigned, ProducesPemCertificateAndKey) {
  auto pem =
      generateSelfSigned("mail.example.org", {"mail.example.org", "::1"}, std::chrono::hours(1));
  ASSERT_TRUE(pem) << pem.error().message;
  EXPECT_THAT(pem->certificate_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(pem->private_key_pem, HasSubstr("PRIVATE KEY-----"));
}

TEST(SelfSigned, EachCallMakesANewKey) {
  auto a = generateSelfSigned("a", {"a"}, std::chrono::hours(1));
  auto b = generateSelfSigned("a", {"a"}, std::chrono::hours(1));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_NE(a->private_key_pem, b->private_key_pem);
  EXPECT_NE(a->certificate_pem, b->certificate_pem);
}

}  // namespace
}  // namespace popbridge::proxy::tls
