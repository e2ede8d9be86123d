#pragma once

#include <string>

namespace popbridge::proxy::tls {

// The one error type of the TLS layer (STYLE.md 7.2). `message` is meant for logs and for the
// NetError a connection reports: it names the file, the peer check or the TLS alert that failed.
struct Error {
  std::string message;
};

}  // namespace popbridge::proxy::tls
