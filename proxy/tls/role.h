#pragma once

namespace popbridge::proxy::tls {

// Which end of the TLS handshake this side plays. popbridge is a Server towards IMAP clients
// (STARTTLS on 143, implicit on 993) and a Client towards POP3 servers (STLS, or 995).
enum class TlsRole { Client, Server };

}  // namespace popbridge::proxy::tls
