#include "proxy/tls/ssl_errors.h"

// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/err.h>
#pragma GCC diagnostic pop

#include <array>
#include <cstdint>

#ifndef OPENSSL_IS_BORINGSSL
#error "proxy/tls must be compiled against BoringSSL (/usr/include/android), not OpenSSL"
#endif

namespace popbridge::proxy::tls {

std::string takeErrorQueue() {
  std::string reasons;
  std::uint32_t code = 0;
  while ((code = ERR_get_error()) != 0) {
    if (!reasons.empty()) {
      reasons += "; ";
    }
    if (const char* reason = ERR_reason_error_string(code); reason != nullptr) {
      reasons += reason;
    } else {
      std::array<char, 256> text{};
      ERR_error_string_n(code, text.data(), text.size());
      reasons += text.data();
    }
  }
  ERR_clear_error();
  return reasons.empty() ? std::string("unknown error") : reasons;
}

}  // namespace popbridge::proxy::tls
