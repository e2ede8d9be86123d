#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"

namespace popbridge::proxy {

// `popbridge serve`: opens the store, binds the IMAP listeners, starts polling every POP
// account, and runs until SIGTERM or SIGINT. On the way out every handle is closed, the loop
// runs dry and must close cleanly (STYLE.md 5.7). Returns the process exit code.
int serve(const config::Config& config);

// `popbridge store check`: verifies every row's blob for the given users (all configured
// users when `users` is empty); prints what it finds and deletes nothing. 0 when clean.
int storeCheck(const config::Config& config, const std::vector<std::string>& users);

}  // namespace popbridge::proxy
