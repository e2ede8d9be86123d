#include "proxy/archive/archive_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include "proxy/archive/exporter.h"
#include "proxy/archive/importer.h"
#include "proxy/archive/progress.h"
#include "store/store.h"

namespace popbridge::proxy::archive {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void printError(const char* command, const std::string& message) {
  std::fprintf(stderr, "popbridge: %s: %s\n", command, message.c_str());
}

// The user's store, or nullptr after printing why not. The store holds an exclusive flock on
// the user directory for as long as it is open, and so does the running daemon.
std::shared_ptr<store::UserStore> openUser(const config::Config& config, const std::string& user,
                                           const char* command) {
  auto opened = store::Store::open(config.data_dir);
  if (!opened) {
    printError(command, "cannot open the store at " + config.data_dir.string() + ": " +
                            opened.error().message);
    return nullptr;
  }
  auto user_store = (*opened)->user(user);
  if (!user_store) {
    const std::string& why = user_store.error().message;
    if (user_store.error().code == store::ErrorCode::Io &&
        why.find("in use by another process") != std::string::npos) {
      printError(command, "the store of user \"" + user +
                              "\" is in use by another process, most likely the running daemon: "
                              "stop the daemon first (" +
                              why + ")");
    } else {
      printError(command, "cannot open the store of user \"" + user + "\": " + why);
    }
    return nullptr;
  }
  return *user_store;
}

}  // namespace

int importMail(const config::Config& config, const cli::ImportRequest& request) {
  auto plan = planImport(request.path, request.into);
  if (!plan) {
    printError("import", plan.error().message);
    return kExitUsage;
  }
  for (const std::string& warning : plan->warnings) printError("import", "warning: " + warning);
  auto user = openUser(config, request.user, "import");
  if (!user) return kExitFailure;

  ImportSettings settings;
  settings.mbox_format =
      request.mbox_format == "mboxo" ? mailfile::MboxFormat::O : mailfile::MboxFormat::Rd;
  ProgressMeter progress(stderr, ProgressMeter::styleFor(stderr),
                         plan->has_mbox ? 0 : plan->maildir_messages, plan->total_bytes);
  Importer importer(*user, settings, progress);
  auto done = importer.run(*plan);
  progress.finish();
  const ImportSummary& summary = importer.summary();
  if (!done) {
    printError("import", done.error().message);
    std::fprintf(stderr,
                 "popbridge: import: %llu messages were committed before the error and stay in "
                 "the store (importing again imports them again)\n",
                 static_cast<unsigned long long>(summary.messages));
    return kExitFailure;
  }
  if (summary.skipped_keywords > 0) {
    printError("import", "warning: " + std::to_string(summary.skipped_keywords) +
                             " keywords were not valid IMAP keywords and were left out");
  }
  std::printf("imported %llu messages (%s) into %zu mailboxes of %s",
              static_cast<unsigned long long>(summary.messages), formatBytes(summary.bytes).c_str(),
              summary.mailboxes.size(), request.user.c_str());
  if (summary.already_there > 0) {
    std::printf("; %llu were already there and skipped",
                static_cast<unsigned long long>(summary.already_there));
  }
  std::printf("\n");
  return 0;
}

int exportMail(const config::Config& config, const cli::ExportRequest& request) {
  auto user = openUser(config, request.user, "export");
  if (!user) return kExitFailure;
  auto totals = storeTotals(*user);
  if (!totals) {
    printError("export", totals.error().message);
    return kExitFailure;
  }
  ProgressMeter progress(stderr, ProgressMeter::styleFor(stderr), totals->messages, totals->bytes);
  Exporter exporter(*user, progress);
  auto done = exporter.run(
      request.dir, request.force ? ExistingDirectory::WriteInto : ExistingDirectory::Refuse);
  progress.finish();
  const ExportSummary& summary = exporter.summary();
  if (!done) {
    printError("export", done.error().message);
    return kExitFailure;
  }
  if (summary.dropped_keywords > 0) {
    printError("export", "warning: " + std::to_string(summary.dropped_keywords) +
                             " keywords beyond the 26 a Maildir folder can name were left out");
  }
  std::printf("exported %llu messages (%s) from %zu mailboxes of %s to %s\n",
              static_cast<unsigned long long>(summary.messages), formatBytes(summary.bytes).c_str(),
              summary.mailboxes.size(), request.user.c_str(), request.dir.c_str());
  return 0;
}

}  // namespace popbridge::proxy::archive
