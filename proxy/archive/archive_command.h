#pragma once

#include "proxy/cli/archive_options.h"
#include "proxy/config/config.h"

namespace popbridge::proxy::archive {

// `popbridge import`: imports request.path into request.user's store (see Importer and
// planImport). Progress on stderr (a bar on a terminal), a summary on stdout. Refuses with
// "stop the daemon first" while another process (the daemon) holds the user's store. Returns
// the process exit code: 0 done, 1 failed (what was committed before the failure stays and is
// reported), 2 bad arguments. Call from main's thread.
int importMail(const config::Config& config, const cli::ImportRequest& request);

// `popbridge export`: writes request.user's mailboxes as a Maildir++ tree in request.dir (see
// Exporter). Same conventions as importMail.
int exportMail(const config::Config& config, const cli::ExportRequest& request);

}  // namespace popbridge::proxy::archive
