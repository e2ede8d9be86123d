// popbridge: an IMAP home for POP-only mailboxes.
#include "proxy/archive/archive_command.h"
#include "proxy/cli/cli.h"
#include "proxy/server/control_commands.h"
#include "proxy/server/daemon.h"

int main(int argc, char** argv) {
  popbridge::proxy::cli::CliHandlers handlers;
  handlers.serve = popbridge::proxy::serve;
  handlers.store_check = popbridge::proxy::storeCheck;
  handlers.status = popbridge::proxy::statusCommand;
  handlers.sync = popbridge::proxy::syncCommand;
  handlers.import_mail = popbridge::proxy::archive::importMail;
  handlers.export_mail = popbridge::proxy::archive::exportMail;
  return popbridge::proxy::cli::runCli(argc, argv, handlers);
}
