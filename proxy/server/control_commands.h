#pragma once

#include "proxy/cli/cli.h"
#include "proxy/config/config.h"

namespace popbridge::proxy {

// `popbridge status`: asks the daemon over its control socket and prints, per user and account,
// the state (idle, pulling, backing off, disabled and why), the last poll and its result, the
// next poll and the messages in the account's folder; JSON with --json. 0 when the daemon
// answered; 1 with a message on stderr when it does not run or fails to answer.
int statusCommand(const config::Config& config, const cli::StatusOptions& options);

// `popbridge sync`: pulls the selected accounts now. With a running daemon the request goes
// over the control socket (the daemon re-reads its config as on SIGHUP, so a fixed password
// file counts, and a disabled account is enabled again and polled at once); without
// one the pull runs in this process (the store is locked by one process at a time). Progress
// goes to stdout: a redrawn bar on a terminal, plain lines otherwise, and a summary at the end.
// 0 when every pull succeeded, 1 otherwise (the error is printed), 2 for an unknown target.
int syncCommand(const config::Config& config, const cli::SyncOptions& options);

}  // namespace popbridge::proxy
