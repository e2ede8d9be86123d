#pragma once

// Message digests the POP3 client needs from BoringSSL (proxy/tls is the only code that sees
// it, STYLE.md 1.4).

#include <string>
#include <string_view>

namespace popbridge::proxy::tls {

// Lower-case hex MD5 (RFC 1321) of `data`: 32 characters. Only for protocols that prescribe it,
// such as APOP (RFC 1939 section 7); never for anything that needs collision resistance. Pure,
// any thread.
std::string md5Hex(std::string_view data);

}  // namespace popbridge::proxy::tls
