#pragma once

#include "proxy/tls/role.h"

namespace popbridge::proxy {

// The TLS role lives in proxy/tls/ so that the engine and the network core share one type.
using TlsRole = tls::TlsRole;

}  // namespace popbridge::proxy
