#pragma once

#include <string>

namespace popbridge::proxy::tls {

// Reads and clears this thread's BoringSSL error queue (STYLE.md 5.6: right after every failing
// call, so a stale entry never blames the next session on this thread). Returns the reasons,
// oldest first, joined by "; ", or "unknown error" when the queue was empty.
std::string takeErrorQueue();

}  // namespace popbridge::proxy::tls
