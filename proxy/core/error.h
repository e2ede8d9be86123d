#pragma once

#include <string>

namespace popbridge::proxy {

// The error type of the network core (STYLE.md 7.2): what failed, with whom, and why, ready for a
// log line, e.g. "connect to pop.example.net:995: connection refused".
struct NetError {
  std::string message;
};

}  // namespace popbridge::proxy
