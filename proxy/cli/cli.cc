#include "proxy/cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <utility>

#include "proxy/auth/password.h"
#include "proxy/cli/password_prompt.h"

#ifndef POPBRIDGE_VERSION
#error "POPBRIDGE_VERSION must be defined by the build"
#endif

namespace popbridge::proxy::cli {
namespace {

constexpr const char* kDefaultConfigPath = "/etc/popbridge/config.yaml";

struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  PasswordInput password_input;
};

// Registers subcommands and remembers which one the command line selected. CLI11 runs a
// subcommand's callback once its arguments are parsed; the callback only records the action,
// which runs after parsing has fully succeeded so that handler output never interleaves with
// usage errors.
//
// Adding a subcommand that needs the configuration is a CliHandlers field plus one call in
// runCli:
//   dispatch.withConfig(app, "status", "Show ...", [&](const config::Config& c) {
//     return call(handlers.status, "status", streams.err, c);
//   });
// Extra arguments are added on the returned CLI::App* (see "store check").
class Dispatcher {
 public:
  explicit Dispatcher(const Streams& streams)
      : streams_(streams), config_path_(defaultConfigPath()) {}

  // A subcommand of `parent` taking "-c,--config FILE"; when selected, loads the file (printing
  // the error and returning kExitUsage on failure) and then calls `run`.
  CLI::App* withConfig(CLI::App& parent, const std::string& name, const std::string& description,
                       std::function<int(const config::Config&)> run) {
    CLI::App* sub = parent.add_subcommand(name, description);
    sub->add_option("-c,--config", config_path_,
                    "Configuration file (default: $POPBRIDGE_CONFIG, else " +
                        std::string(kDefaultConfigPath) + ")")
        ->type_name("FILE")
        ->capture_default_str();
    sub->callback([this, run = std::move(run)] {
      selected_ = [this, run] {
        auto config = config::loadConfig(config_path_);
        if (!config) {
          streams_.err << "popbridge: " << config.error().toString() << "\n";
          return kExitUsage;
        }
        return run(*config);
      };
    });
    return sub;
  }

  // A subcommand of `parent` that runs `run` when selected.
  CLI::App* plain(CLI::App& parent, const std::string& name, const std::string& description,
                  std::function<int()> run) {
    CLI::App* sub = parent.add_subcommand(name, description);
    sub->callback([this, run = std::move(run)] { selected_ = run; });
    return sub;
  }

  // Runs the selected action; kExitUsage if none was (CLI11 enforces one, so only defensive).
  int run() const { return selected_ ? selected_() : kExitUsage; }

  const std::string& configPath() const { return config_path_; }

 private:
  const Streams& streams_;
  std::string config_path_;
  std::function<int()> selected_;
};

// Calls a handler main.cc may not have provided.
template <class Handler, class... Args>
int call(const Handler& handler, std::string_view name, std::ostream& err, Args&&... args) {
  if (!handler) {
    err << "popbridge: " << name << " is not available in this build\n";
    return kExitFailure;
  }
  return handler(std::forward<Args>(args)...);
}

std::size_t countAccounts(const config::Config& config) {
  std::size_t count = 0;
  for (const config::User& user : config.users) {
    count += user.accounts.size();
  }
  return count;
}

// Settings that are valid but weaken security: check-config points them out so that an operator
// sees them before the daemon logs them.
void printWarnings(const config::Config& config, std::ostream& err) {
  const std::string file = config.source.string();
  if (config.plaintext_auth == config::PlaintextAuth::Always) {
    err << file << ": warning: imap.plaintext_auth is always: IMAP passwords may cross the "
        << "network unencrypted\n";
  }
  for (std::size_t u = 0; u < config.users.size(); ++u) {
    const config::User& user = config.users[u];
    for (std::size_t a = 0; a < user.accounts.size(); ++a) {
      const config::PopAccount& account = user.accounts[a];
      const std::string where = "users[" + std::to_string(u) + "].accounts[" + std::to_string(a) +
                                "] (" + user.name + "/" + account.name + ")";
      if (account.tls == config::TlsMode::None) {
        err << file << ": warning: " << where
            << ": tls is none: the POP password is sent unencrypted\n";
      } else if (account.verify == config::VerifyCertificates::No) {
        err << file << ": warning: " << where
            << ": verify_certificates is false: the server's identity is not checked\n";
      }
    }
  }
}

int checkConfig(const config::Config& config, const std::string& path, const Streams& streams) {
  printWarnings(config, streams.err);
  streams.out << path << ": ok (" << config.users.size() << " users, " << countAccounts(config)
              << " POP accounts, " << config.listeners.size() << " listeners)\n";
  return kExitOk;
}

int hashPasswordCommand(const Streams& streams) {
  PasswordInput mode = streams.password_input;
  if (mode == PasswordInput::Detect) {
    mode = (&streams.in == &std::cin && isatty(STDIN_FILENO) == 1) ? PasswordInput::Terminal
                                                                   : PasswordInput::Stream;
  }
  auto password = mode == PasswordInput::Terminal
                      ? readPasswordFromTerminal(STDIN_FILENO, streams.err)
                      : readPasswordLine(streams.in);
  if (!password) {
    streams.err << "popbridge: hash-password: " << password.error() << "\n";
    return kExitFailure;
  }
  auto hash = auth::hashPassword(*password);
  if (!hash) {
    streams.err << "popbridge: hash-password: " << hash.error() << "\n";
    return kExitFailure;
  }
  streams.out << *hash << "\n";
  return kExitOk;
}

int storeCheck(const config::Config& config, const std::vector<std::string>& users,
               const CliHandlers& handlers, const Streams& streams) {
  for (const std::string& name : users) {
    if (config.findUser(name) == nullptr) {
      streams.err << "popbridge: store check: no user \"" << name << "\" in "
                  << config.source.string() << "\n";
      return kExitUsage;
    }
  }
  return call(handlers.store_check, "store check", streams.err, config, users);
}

// A handler for one configured user: a usage error if the configuration has no such user.
template <class Handler, class Request>
int forUser(const Handler& handler, std::string_view name, const config::Config& config,
            const Request& request, const Streams& streams) {
  if (config.findUser(request.user) == nullptr) {
    streams.err << "popbridge: " << name << ": no user \"" << request.user << "\" in "
                << config.source.string() << "\n";
    return kExitUsage;
  }
  return call(handler, name, streams.err, config, request);
}

}  // namespace

std::string defaultConfigPath() {
  const char* env = std::getenv("POPBRIDGE_CONFIG");  // NOLINT(concurrency-mt-unsafe): main only
  if (env != nullptr && env[0] != '\0') {
    return env;
  }
  return kDefaultConfigPath;
}

int runCli(int argc, char** argv, const CliHandlers& handlers) {
  return runCli(argc, argv, handlers, CliIo{});
}

int runCli(int argc, char** argv, const CliHandlers& handlers, const CliIo& io) {
  const Streams streams{io.in != nullptr ? *io.in : std::cin,
                        io.out != nullptr ? *io.out : std::cout,
                        io.err != nullptr ? *io.err : std::cerr, io.password_input};

  CLI::App app("popbridge: pulls mail from POP3 servers into a folder store served over IMAP",
               "popbridge");
  app.set_version_flag("--version", std::string("popbridge ") + POPBRIDGE_VERSION);
  app.require_subcommand(1);

  Dispatcher dispatch(streams);
  dispatch.withConfig(app, "serve", "Run the daemon until SIGTERM or SIGINT",
                      [&](const config::Config& config) {
                        return call(handlers.serve, "serve", streams.err, config);
                      });
  dispatch.withConfig(app, "check-config", "Load and validate the configuration file",
                      [&](const config::Config& config) {
                        return checkConfig(config, dispatch.configPath(), streams);
                      });
  dispatch.plain(app, "hash-password",
                 "Read a password from standard input and print its crypt(3) hash for "
                 "users[].password_hash",
                 [&] { return hashPasswordCommand(streams); });

  CLI::App* store = app.add_subcommand("store", "Inspect the folder store");
  store->require_subcommand(1);
  std::vector<std::string> store_users;
  dispatch
      .withConfig(*store, "check",
                  "Verify message files against the database (all users when none are named)",
                  [&](const config::Config& config) {
                    return storeCheck(config, store_users, handlers, streams);
                  })
      ->add_option("users", store_users, "Users to check");

  StatusOptions status_options;
  dispatch
      .withConfig(app, "status", "Show every POP account's state, asking the running daemon",
                  [&](const config::Config& config) {
                    return call(handlers.status, "status", streams.err, config, status_options);
                  })
      ->add_flag_callback(
          "--json", [&] { status_options.format = OutputFormat::Json; }, "Print JSON for scripts");
  SyncOptions sync_options;
  CLI::App* sync = dispatch.withConfig(
      app, "sync",
      "Pull now, in the foreground with progress (through the daemon when it runs, else here)",
      [&](const config::Config& config) {
        return call(handlers.sync, "sync", streams.err, config, sync_options);
      });
  sync->add_option("target", sync_options.target,
                   "USER, USER/ACCOUNT or ACCOUNT (default: every account)");
  sync->add_flag("--once", sync_options.once, "Pull once, then exit");
  ImportRequest import_request;
  addImportOptions(*dispatch.withConfig(app, "import", kImportDescription,
                                        [&](const config::Config& config) {
                                          return forUser(handlers.import_mail, "import", config,
                                                         import_request, streams);
                                        }),
                   import_request);
  ExportRequest export_request;
  addExportOptions(*dispatch.withConfig(app, "export", kExportDescription,
                                        [&](const config::Config& config) {
                                          return forUser(handlers.export_mail, "export", config,
                                                         export_request, streams);
                                        }),
                   export_request);

  if (argc <= 1) {
    // A bare `popbridge` is most likely someone exploring: show what there is.
    streams.err << app.help();
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, streams.out, streams.err);
    return code == static_cast<int>(CLI::ExitCodes::Success) ? kExitOk : kExitUsage;
  }
  return dispatch.run();
}

}  // namespace popbridge::proxy::cli
