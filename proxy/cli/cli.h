#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "proxy/cli/archive_options.h"
#include "proxy/config/config.h"

namespace popbridge::proxy::cli {

// Exit codes of the popbridge binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (problems found, I/O error)
inline constexpr int kExitUsage = 2;    // bad command line or bad configuration

// `popbridge status` options.
enum class OutputFormat { Text, Json };
struct StatusOptions {
  OutputFormat format = OutputFormat::Text;
};
// `popbridge sync` options.
struct SyncOptions {
  std::string target;  // USER, USER/ACCOUNT or ACCOUNT; empty = every account
  bool once = false;   // --once: one pull, then exit (also what happens without it, for now)
};

// What the subcommands that need the rest of the daemon call; main.cc provides them. An empty
// std::function makes its subcommand print that it is unavailable and exit kExitFailure.
struct CliHandlers {
  // Runs the daemon until SIGTERM/SIGINT; returns the process exit code. Provided by main.cc.
  std::function<int(const config::Config&)> serve;
  // `popbridge store check -c FILE [USER...]`: verifies blobs against rows for the given users
  // (all configured users when none given), prints problems/orphans, returns 0 when clean, 1 when
  // problems. Provided by main.cc. The CLI has already checked that every named user is
  // configured.
  std::function<int(const config::Config&, const std::vector<std::string>& users)> store_check;
  // `popbridge status -c FILE [--json]`: asks the running daemon; 0 if it answered.
  std::function<int(const config::Config&, const StatusOptions&)> status;
  // `popbridge sync -c FILE [TARGET] [--once]`: pulls now, through the daemon if it runs, else
  // in this process; 0 if every pull succeeded.
  std::function<int(const config::Config&, const SyncOptions&)> sync;
  // `popbridge import` / `popbridge export` (proxy/archive). The CLI has checked the user.
  std::function<int(const config::Config&, const ImportRequest&)> import_mail;
  std::function<int(const config::Config&, const ExportRequest&)> export_mail;
};

// How hash-password reads the password.
enum class PasswordInput {
  Detect,    // a terminal when `in` is std::cin and file descriptor 0 is a tty
  Terminal,  // read the terminal on fd 0 directly (not `in`): echo off, prompt on `err`, ask twice
  Stream,    // read one line from `in` without prompting
};

// Where the CLI reads and writes; the defaults are the process's standard streams. Borrowed for
// the duration of runCli.
struct CliIo {
  std::istream* in = nullptr;   // nullptr = std::cin
  std::ostream* out = nullptr;  // nullptr = std::cout
  std::ostream* err = nullptr;  // nullptr = std::cerr
  PasswordInput password_input = PasswordInput::Detect;
};

// Parses argv with CLI11 and dispatches. Subcommands:
//   popbridge serve -c FILE            load config (clear error + exit 2 on failure), then
//                                      handlers.serve
//   popbridge check-config -c FILE     load and validate; print
//                                      "FILE: ok (N users, M POP accounts, K listeners)" and any
//                                      warnings (on stderr); exit 0, or the error and exit 2
//   popbridge hash-password            read a password from stdin (no echo and asked twice on a
//                                      tty), print its yescrypt hash
//   popbridge store check -c FILE [USER...]   handlers.store_check
//   popbridge status -c FILE [--json]           handlers.status
//   popbridge sync -c FILE [TARGET] [--once]    handlers.sync
//   popbridge import -c FILE USER PATH [--into MAILBOX] [--mbox-format F]   handlers.import_mail
//   popbridge export -c FILE USER DIR [--force]                             handlers.export_mail
//   popbridge --version                "popbridge 0.1.0"
// --help works on every level. -c defaults to $POPBRIDGE_CONFIG if set, else
// /etc/popbridge/config.yaml. Returns the process exit code (kExit*, or what a handler returned);
// usage errors print a message to stderr and return kExitUsage. Handlers run on the calling
// thread before runCli returns. Reads the environment: call from main() only.
int runCli(int argc, char** argv, const CliHandlers& handlers);

// As above with explicit streams (tests, embedding).
int runCli(int argc, char** argv, const CliHandlers& handlers, const CliIo& io);

// The -c default: $POPBRIDGE_CONFIG when set and non-empty, else /etc/popbridge/config.yaml.
std::string defaultConfigPath();

}  // namespace popbridge::proxy::cli
