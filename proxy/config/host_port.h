#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::proxy::config {

enum class AddressFamily { Ipv4, Ipv6 };

// A numeric listen address split from "host:port" or "[v6]:port".
struct HostPort {
  std::string host;  // without brackets: "0.0.0.0", "::1"
  std::uint16_t port = 0;
  AddressFamily family = AddressFamily::Ipv4;
};

// Parses a listen address: "<IPv4>:<port>" or "[<IPv6>]:<port>" with a numeric host (listeners
// bind without name resolution) and a decimal port 0-65535 (0 lets the system choose, which
// tests use). An IPv6 address without brackets is refused with a hint, since "::1:143" is
// ambiguous. Returns the parts or an error message naming what is wrong. Pure; any thread.
Result<HostPort, std::string> parseListenAddress(std::string_view text);

// Parses a decimal TCP port in [min_port, 65535]; leading '+', signs and spaces are refused.
// Returns the port or an error message. Pure; any thread.
Result<std::uint16_t, std::string> parsePort(std::string_view text, std::uint16_t min_port);

}  // namespace popbridge::proxy::config
