#include "proxy/cli/archive_options.h"

#include <CLI/CLI.hpp>

namespace popbridge::proxy::cli {

const char* const kImportDescription =
    "Import an mbox file, a Maildir tree or a directory of *.mbox files into USER's store. "
    "Maildir folders become mailboxes (\".Sent\" -> Sent, \".A.B\" -> A/B); Maildir flags and "
    "mbox Status/X-Status headers become IMAP flags. Stop the daemon first. Importing the same "
    "file twice imports its messages twice.";

const char* const kExportDescription =
    "Export every mailbox of USER as a Maildir++ tree in DIR (INBOX in DIR/{cur,new,tmp}, "
    "others as DIR/.Name), flags in the file names, bodies as IMAP FETCH BODY[] returns them, "
    "file times = INTERNALDATE. Stop the daemon first.";

void addImportOptions(CLI::App& command, ImportRequest& request) {
  command.add_option("user", request.user, "A user of the configuration")->required();
  command.add_option("path", request.path, "mbox file, Maildir directory or directory of *.mbox")
      ->required();
  command
      .add_option("--into", request.into,
                  "Mailbox for an mbox file (default INBOX); for a Maildir, the mailbox its "
                  "root becomes, with its folders below it")
      ->type_name("MAILBOX");
  request.mbox_format = "mboxrd";
  command
      .add_option("--mbox-format", request.mbox_format,
                  "How body lines starting with \"From \" were quoted: mboxrd strips one '>' "
                  "from >From, >>From...; mboxo only from >From")
      ->check(CLI::IsMember({"mboxrd", "mboxo"}))
      ->capture_default_str();
}

void addExportOptions(CLI::App& command, ExportRequest& request) {
  command.add_option("user", request.user, "A user of the configuration")->required();
  command.add_option("dir", request.dir, "Directory to write (created if absent)")->required();
  command.add_flag("--force", request.force, "Write into DIR even if it is not empty");
}

}  // namespace popbridge::proxy::cli
