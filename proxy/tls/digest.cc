#include "proxy/tls/digest.h"

// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/md5.h>
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

}  // namespace popbridge::proxy::tls
