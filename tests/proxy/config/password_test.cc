#include "proxy/auth/password.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace popbridge::proxy::auth {
namespace {

// A hash made directly with libcrypt, independent of hashPassword. Empty when this libcrypt
// cannot produce the method.
std::string cryptHash(const char* prefix, unsigned long cost, const std::string& password) {
  char* setting = crypt_gensalt_ra(prefix, cost, nullptr, 0);
  if (setting == nullptr) {
    return {};
  }
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), setting, data.get());
  std::free(setting);
  return (out == nullptr || out[0] == '*') ? std::string() : std::string(out);
}

TEST(Password, HashAndVerifyRoundTrip) {
  const auto hash = hashPassword("correct horse");
  ASSERT_TRUE(hash.has_value()) << hash.error();
  EXPECT_EQ(hash->rfind("$y$", 0), 0U) << *hash;
  EXPECT_TRUE(isSupportedHash(*hash));
  EXPECT_TRUE(verifyPassword("correct horse", *hash));
  EXPECT_FALSE(verifyPassword("correct horsE", *hash));
  EXPECT_FALSE(verifyPassword("correct horse ", *hash));
  EXPECT_FALSE(verifyPassword("", *hash));
}

TEST(Password, SaltsDiffer) {
  const auto a = hashPassword("same");
  const auto b = hashPassword("same");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verifyPassword("same", *a));
  EXPECT_TRUE(verifyPassword("same", *b));
}

TEST(Password, EmbeddedNulNeverMatchesItsPrefix) {
  const auto hash = hashPassword("abc");
  ASSERT_TRUE(hash.has_value());
  EXPECT_FALSE(verifyPassword(std::string_view("abc\0xyz", 7), *hash));
  EXPECT_FALSE(hashPassword(std::string_view("abc\0xyz", 7)).has_value());
}

TEST(Password, EmptyPasswordNotHashed) {
  const auto hash = hashPassword("");
  ASSERT_FALSE(hash.has_value());
  EXPECT_NE(hash.error().find("empty"), std::string::npos);
}

TEST(Password, Sha512CryptVerifies) {
  const std::string hash = cryptHash("$6$", 5000, "sha-secret");
  if (hash.empty()) {
    GTEST_SKIP() << "libcrypt lacks SHA-512-crypt";
  }
  ASSERT_EQ(hash.rfind("$6$", 0), 0U);
  EXPECT_TRUE(isSupportedHash(hash));
  EXPECT_TRUE(verifyPassword("sha-secret", hash));
  EXPECT_FALSE(verifyPassword("sha-secreT", hash));
}

TEST(Password, BcryptVerifies) {
  const std::string hash = cryptHash("$2b$", 4, "bcrypt-secret");
  if (hash.empty()) {
    GTEST_SKIP() << "libcrypt lacks bcrypt";
  }
  ASSERT_EQ(hash.rfind("$2b$04$", 0), 0U);
  EXPECT_TRUE(isSupportedHash(hash));
  EXPECT_TRUE(verifyPassword("bcrypt-secret", hash));
  EXPECT_FALSE(verifyPassword("bcrypt-secreu", hash));
}

TEST(Password, KnownSha512Vector) {
  // From the SHA-crypt specification's test vectors (Drepper, "Unix crypt using SHA-256 and
  // SHA-512"), test 1.
  const std::string hash =
      "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCo"
      "EOfaS35inz1";
  EXPECT_TRUE(isSupportedHash(hash));
  EXPECT_TRUE(verifyPassword("Hello world!", hash));
  EXPECT_FALSE(verifyPassword("Hello world", hash));
}

TEST(Password, UnsupportedHashesRefused) {
  // MD5-crypt and traditional DES of "password": valid for libcrypt, too weak for popbridge.
  const std::string md5 = cryptHash("$1$", 0, "password");
  if (!md5.empty()) {
    EXPECT_FALSE(isSupportedHash(md5));
    EXPECT_FALSE(verifyPassword("password", md5));
  }
  const std::string des = cryptHash("", 0, "password");
  if (!des.empty()) {
    EXPECT_FALSE(isSupportedHash(des));
    EXPECT_FALSE(verifyPassword("password", des));
  }
  EXPECT_FALSE(isSupportedHash(""));
  EXPECT_FALSE(isSupportedHash("password"));
  EXPECT_FALSE(isSupportedHash("$y$"));
  EXPECT_FALSE(isSupportedHash("$6$"));
  EXPECT_FALSE(isSupportedHash("$6$salt"));
  EXPECT_FALSE(isSupportedHash("*"));
  EXPECT_FALSE(verifyPassword("", ""));
  EXPECT_FALSE(verifyPassword("x", "*"));
}

TEST(Password, DamagedHashRefused) {
  const auto hash = hashPassword("pw");
  ASSERT_TRUE(hash.has_value());
  EXPECT_FALSE(isSupportedHash(hash->substr(0, hash->size() - 1)));
  EXPECT_FALSE(isSupportedHash(*hash + "A"));
  std::string altered = *hash;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  EXPECT_TRUE(isSupportedHash(altered)) << "shape is fine; only verification can tell";
  EXPECT_FALSE(verifyPassword("pw", altered));
}

}  // namespace
}  // namespace popbridge::proxy::auth
