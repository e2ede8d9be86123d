#pragma once

// Message digests the POP3 client and the IMAP login cache need from BoringSSL (proxy/tls is the
// only code that sees it, STYLE.md 1.4).

#include <cstddef>
#include <string>
#include <string_view>

namespace popbridge::proxy::tls {

// Lower-case hex MD5 (RFC 1321) of `data`: 32 characters. Only for protocols that prescribe it,
// such as APOP (RFC 1939 section 7); never for anything that needs collision resistance. Pure,
// any thread.
std::string md5Hex(std::string_view data);

// HMAC-SHA-256 (RFC 2104) of `data` under `key`: 32 raw bytes. Pure, any thread.
std::string hmacSha256(std::string_view key, std::string_view data);

// `n` bytes from BoringSSL's CSPRNG (seeded from the kernel). Any thread.
std::string randomBytes(std::size_t n);

}  // namespace popbridge::proxy::tls
