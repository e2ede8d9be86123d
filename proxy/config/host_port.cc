#include "proxy/config/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace popbridge::proxy::config {
namespace {

bool isIpv4(const std::string& host) {
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1;
}

bool isIpv6(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

}  // namespace

Result<std::uint16_t, std::string> parsePort(std::string_view text, std::uint16_t min_port) {
  if (text.empty()) {
    return fail(std::string("missing port number"));
  }
  unsigned long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return fail("invalid port \"" + std::string(text) + "\": expected a number");
    }
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) {
      return fail("port " + std::string(text) + " is out of range (" + std::to_string(min_port) +
                  "-65535)");
    }
  }
  if (value < min_port) {
    return fail("port " + std::string(text) + " is out of range (" + std::to_string(min_port) +
                "-65535)");
  }
  return static_cast<std::uint16_t>(value);
}

Result<HostPort, std::string> parseListenAddress(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail("invalid address \"" + std::string(text) + "\": missing ']'");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("invalid address \"" + std::string(text) + "\": expected \"[IPv6]:port\"");
    }
    port_text = text.substr(close + 2);
    if (!isIpv6(out.host)) {
      return fail("invalid address \"" + std::string(text) + "\": \"" + out.host +
                  "\" is not a numeric IPv6 address");
    }
    out.family = AddressFamily::Ipv6;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail("invalid address \"" + std::string(text) +
                  "\": expected \"host:port\" (e.g. \"0.0.0.0:143\" or \"[::]:993\")");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return fail("invalid address \"" + std::string(text) +
                  "\": put an IPv6 address in brackets, e.g. \"[" + out.host +
                  "]:" + std::string(port_text) + "\"");
    }
    if (!isIpv4(out.host)) {
      return fail("invalid address \"" + std::string(text) + "\": \"" + out.host +
                  "\" is not a numeric IPv4 address (listeners bind without name lookup; use "
                  "e.g. 127.0.0.1 or 0.0.0.0)");
    }
  }
  auto port = parsePort(port_text, 0);
  if (!port) {
    return fail("invalid address \"" + std::string(text) + "\": " + port.error());
  }
  out.port = *port;
  return out;
}

}  // namespace popbridge::proxy::config
