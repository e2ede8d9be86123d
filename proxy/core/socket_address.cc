#include "proxy/core/socket_address.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace popbridge::proxy {

Result<sockaddr_storage, NetError> parseListenAddress(std::string_view address) {
  const auto bad = [&](const char* why) {
    return fail(NetError{"listen address \"" + std::string(address) + "\": " + why});
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return bad("expected host:port");
  }
  std::string host(address.substr(0, colon));
  const std::string_view port_text = address.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  bool bracketed = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  sockaddr_storage storage{};
  const int port_int = static_cast<int>(port);
  if (!bracketed &&
      uv_ip4_addr(host.c_str(), port_int, reinterpret_cast<sockaddr_in*>(&storage)) == 0) {
    return storage;
  }
  // IPv6 literals must be bracketed (RFC 3986 section 3.2.2): "::1:993" has no clear port.
  if (bracketed &&
      uv_ip6_addr(host.c_str(), port_int, reinterpret_cast<sockaddr_in6*>(&storage)) == 0) {
    return storage;
  }
  return bad("host must be an IPv4 address or a bracketed IPv6 address");
}

std::string formatAddress(const sockaddr* address) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (address == nullptr) {
    return "unknown";
  }
  if (address->sa_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, address, sizeof v4);
    uv_ip4_name(&v4, text.data(), text.size());
    return std::string(text.data()) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, address, sizeof v6);
    uv_ip6_name(&v6, text.data(), text.size());
    return "[" + std::string(text.data()) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  return "unknown";
}

bool isLoopback(const sockaddr* address) {
  if (address == nullptr) {
    return false;
  }
  if (address->sa_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, address, sizeof v4);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, address, sizeof v6);
    const std::uint8_t* b = v6.sin6_addr.s6_addr;
    static constexpr std::array<std::uint8_t, 16> kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                               0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(b, kLoopback.data(), kLoopback.size()) == 0) {
      return true;
    }
    // ::ffff:127.x.y.z, as a dual-stack listener reports IPv4 peers (RFC 4291 section 2.5.5.2).
    static constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0,    0,
                                                                   0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, kMappedPrefix.data(), kMappedPrefix.size()) == 0 && b[12] == 127;
  }
  return false;
}

}  // namespace popbridge::proxy
