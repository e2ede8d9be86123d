#pragma once

#include <uv.h>

#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "proxy/core/error.h"

namespace popbridge::proxy {

// Parses a listen address: "0.0.0.0:143", "127.0.0.1:0", "[::1]:993", "[::]:143" or
// "localhost:1143" (taken as 127.0.0.1). The host must be an address literal: a listener binds
// one address, never whatever a name resolves to today. Returns the socket address or a NetError
// quoting the input. Pure; any thread.
Result<sockaddr_storage, NetError> parseListenAddress(std::string_view address);

// "127.0.0.1:54321" for IPv4, "[::1]:993" for IPv6; "unknown" for other families. Any thread.
std::string formatAddress(const sockaddr* address);

// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8. Any thread.
bool isLoopback(const sockaddr* address);

}  // namespace popbridge::proxy
