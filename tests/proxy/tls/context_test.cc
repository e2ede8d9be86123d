#include "proxy/tls/context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/proxy/tls/test_credentials.h"

namespace popbridge::proxy::tls {
namespace {

using ::testing::HasSubstr;

TEST(TlsContext, ServerLoadsMatchingCertificateAndKey) {
  testing::Credentials creds;
  auto ctx = Context::server(creds.cert_file, creds.key_file);
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_NE((*ctx)->native(), nullptr);
}

TEST(TlsContext, ServerErrorNamesMissingCertificateFile) {
  testing::Credentials creds;
  const std::string missing = creds.dir.file("absent.pem");
  auto ctx = Context::server(missing, creds.key_file);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("certificate file " + missing));
}

TEST(TlsContext, ServerErrorNamesMissingKeyFile) {
  testing::Credentials creds;
  const std::string missing = creds.dir.file("absent-key.pem");
  auto ctx = Context::server(creds.cert_file, missing);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("private key file " + missing));
}

TEST(TlsContext, ServerRejectsKeyOfAnotherCertificate) {
  testing::Credentials first;
  testing::Credentials second;
  auto ctx = Context::server(first.cert_file, second.key_file);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("does not match"));
}

TEST(TlsContext, ServerRejectsGarbageCertificate) {
  testing::Credentials creds;
  const std::string junk = creds.dir.write("junk.pem", "not a certificate\n");
  auto ctx = Context::server(junk, creds.key_file);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr(junk));
}

TEST(TlsContext, ClientWithSystemTrustStore) {
  auto ctx = Context::client(Verify::Peer, "");
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ((*ctx)->verify(), Verify::Peer);
}

TEST(TlsContext, ClientErrorNamesMissingCaFile) {
  testing::TempDir dir;
  const std::string missing = dir.file("ca.pem");
  auto ctx = Context::client(Verify::Peer, missing);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("CA file " + missing));
}

TEST(TlsContext, ClientWithoutVerificationIgnoresCaFile) {
  auto ctx = Context::client(Verify::None, "/nonexistent/ca.pem");
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ((*ctx)->verify(), Verify::None);
}

}  // namespace
}  // namespace popbridge::proxy::tls
