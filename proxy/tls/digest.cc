#include "proxy/tls/digest.h"

// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#pragma GCC diagnostic pop

#include <array>
#include <cstdint>

namespace popbridge::proxy::tls {

std::string md5Hex(std::string_view data) {
  std::array<std::uint8_t, MD5_DIGEST_LENGTH> digest{};
  MD5(reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), digest.data());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (const std::uint8_t b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
  unsigned int length = 0;
  // Fails only without memory; the all-zero digest then matches no stored one in practice, and
  // callers compare digests they computed the same way.
  (void)HMAC(EVP_sha256(), key.data(), key.size(),
             reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), digest.data(),
             &length);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string randomBytes(std::size_t n) {
  std::string out(n, '\0');
  // BoringSSL's RAND_bytes cannot fail (it aborts the process instead).
  RAND_bytes(reinterpret_cast<std::uint8_t*>(out.data()), out.size());
  return out;
}

}  // namespace popbridge::proxy::tls
