#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "proxy/tls/error.h"

namespace popbridge::proxy::tls {

// A certificate and its private key, both PEM text.
struct PemCredentials {
  std::string certificate_pem;
  std::string private_key_pem;
};

// Generates a fresh P-256 key and a self-signed certificate for `common_name` whose
// subjectAltName lists `names` (each a DNS name or an IPv4/IPv6 literal), valid from an hour ago
// for `valid_for`. Used for first-start and test certificates; such a certificate is trusted only
// where it is itself given as a CA file. Returns the PEM pair or an Error. Any thread.
Result<PemCredentials, Error> generateSelfSigned(const std::string& common_name,
                                                 const std::vector<std::string>& names,
                                                 std::chrono::hours valid_for);

}  // namespace popbridge::proxy::tls
