#pragma once

#include <string>

namespace CLI {
class App;
}

namespace popbridge::proxy::cli {

// `popbridge import -c FILE USER PATH [--into MAILBOX] [--mbox-format mboxrd|mboxo]`.
struct ImportRequest {
  std::string user;
  std::string path;         // an mbox file, a Maildir (++) tree, or a directory of *.mbox files
  std::string into;         // "" = INBOX (for a Maildir: the mailbox its root becomes)
  std::string mbox_format;  // "mboxrd" (default) or "mboxo"
};

// `popbridge export -c FILE USER DIR [--force]`.
struct ExportRequest {
  std::string user;
  std::string dir;
  bool force = false;  // write into a non-empty DIR
};

// Help texts and the positional arguments and options of the two subcommands, added to the
// subcommand apps that cli.cc created. The requests are borrowed and filled in by parsing.
extern const char* const kImportDescription;
extern const char* const kExportDescription;
void addImportOptions(CLI::App& command, ImportRequest& request);
void addExportOptions(CLI::App& command, ExportRequest& request);

}  // namespace popbridge::proxy::cli
