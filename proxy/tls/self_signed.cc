#include "proxy/tls/self_signed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
// BoringSSL's headers are not -Wpedantic clean; they are included as system code would be.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <openssl/bio.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "proxy/tls/ssl_errors.h"

namespace popbridge::proxy::tls {
namespace {

Result<std::string, Error> bioText(BIO* bio) {
  const std::uint8_t* data = nullptr;
  std::size_t length = 0;
  if (BIO_mem_contents(bio, &data, &length) != 1) {
    return fail(Error{"cannot read PEM buffer: " + takeErrorQueue()});
  }
  return std::string(reinterpret_cast<const char*>(data), length);
}

bool isIpLiteral(const std::string& name) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

}  // namespace

Result<PemCredentials, Error> generateSelfSigned(const std::string& common_name,
                                                 const std::vector<std::string>& names,
                                                 std::chrono::hours valid_for) {
  ERR_clear_error();
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!ec || !key || EC_KEY_generate_key(ec.get()) != 1 ||
      EVP_PKEY_assign_EC_KEY(key.get(), ec.get()) != 1) {
    return fail(Error{"cannot generate key: " + takeErrorQueue()});
  }
  ec.release();  // now owned by key

  bssl::UniquePtr<X509> cert(X509_new());
  std::uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<std::uint8_t*>(&serial), sizeof serial);
  serial &= 0x7fffffffffffffffULL;  // serial numbers are positive (RFC 5280 section 4.1.2.2)
  const long valid_seconds = static_cast<long>(valid_for.count()) * 3600L;
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), valid_seconds) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return fail(Error{"cannot build certificate: " + takeErrorQueue()});
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const std::uint8_t*>(common_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1) {
    return fail(Error{"cannot set certificate name: " + takeErrorQueue()});
  }

  std::string alt_names;
  for (const std::string& name : names) {
    if (!alt_names.empty()) {
      alt_names += ',';
    }
    alt_names += (isIpLiteral(name) ? "IP:" : "DNS:") + name;
  }
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const auto add_extension = [&](int nid, const std::string& value) {
    bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &v3, nid, value.c_str()));
    return ext && X509_add_ext(cert.get(), ext.get(), -1) == 1;
  };
  if ((!alt_names.empty() && !add_extension(NID_subject_alt_name, alt_names)) ||
      !add_extension(NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(NID_ext_key_usage, "serverAuth")) {
    return fail(Error{"cannot add certificate extensions: " + takeErrorQueue()});
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return fail(Error{"cannot sign certificate: " + takeErrorQueue()});
  }

  bssl::UniquePtr<BIO> cert_bio(BIO_new(BIO_s_mem()));
  bssl::UniquePtr<BIO> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return fail(Error{"cannot encode PEM: " + takeErrorQueue()});
  }
  auto cert_pem = bioText(cert_bio.get());
  auto key_pem = bioText(key_bio.get());
  if (!cert_pem) {
    return fail(cert_pem.error());
  }
  if (!key_pem) {
    return fail(key_pem.error());
  }
  return PemCredentials{std::move(*cert_pem), std::move(*key_pem)};
}

}  // namespace popbridge::proxy::tls
