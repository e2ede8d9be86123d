#include "proxy/server/daemon.h"

#include <uv.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <memory>

#include "proxy/core/uv_handle.h"
#include "proxy/imap/server.h"
#include "proxy/pop/scheduler.h"
#include "proxy/server/log.h"
#include "proxy/server/mailbox_hub.h"
#include "proxy/server/user_context.h"
#include "proxy/tls/context.h"
#include "store/store.h"

namespace popbridge::proxy {
namespace {

LogSeverity severityOf(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Debug:
      return LogSeverity::Debug;
    case config::LogLevel::Info:
      return LogSeverity::Info;
    case config::LogLevel::Warn:
      return LogSeverity::Warn;
    case config::LogLevel::Error:
      return LogSeverity::Error;
  }
  return LogSeverity::Info;
}

bool needsServerTls(const config::Config& config) {
  for (const config::Listener& listener : config.listeners) {
    if (listener.tls != config::TlsMode::None) return true;
  }
  return false;
}

// Everything that lives on the loop; destroyed before the loop is closed.
struct Services {
  MailboxHub hub;
  std::map<std::string, std::unique_ptr<UserContext>, std::less<>> users;
  std::unique_ptr<imap::ImapServer> imap;
  std::unique_ptr<pop::Scheduler> scheduler;
  std::unique_ptr<UvHandle<uv_signal_t>> sigterm;
  std::unique_ptr<UvHandle<uv_signal_t>> sigint;
  bool stopping = false;

  UserContext* user(std::string_view name) {
    const auto it = users.find(name);
    return it == users.end() ? nullptr : it->second.get();
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    log(LogSeverity::Info, "popbridge", "stopping");
    // Pending search indexing waits for the next start; an index job under way finishes.
    for (auto& [name, user] : users) user->stopIndexing();
    if (imap) imap->stop();
    if (scheduler) scheduler->stop();
    if (sigterm) sigterm->close();
    if (sigint) sigint->close();
  }
};

void onSignal(uv_signal_t* handle, int /*signum*/) noexcept {
  static_cast<Services*>(handle->data)->stop();
}

std::unique_ptr<UvHandle<uv_signal_t>> watchSignal(uv_loop_t* loop, Services& services,
                                                   int signum) {
  auto handle = std::make_unique<UvHandle<uv_signal_t>>();
  uv_signal_init(loop, handle->get());
  handle->get()->data = &services;
  uv_signal_start(handle->get(), onSignal, signum);
  return handle;
}

}  // namespace

int serve(const config::Config& config) {
  setLogThreshold(severityOf(config.log_level));
  // A client that hangs up mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  auto store = store::Store::open(config.data_dir);
  if (!store) {
    log(LogSeverity::Error, "popbridge", "cannot open the store at ", config.data_dir.string(),
        ": ", store.error().message);
    return 1;
  }
  std::shared_ptr<tls::Context> server_tls;
  if (needsServerTls(config)) {
    auto context = tls::Context::server(config.tls_cert, config.tls_key);
    if (!context) {
      log(LogSeverity::Error, "popbridge", "imap.tls: ", context.error().message);
      return 1;
    }
    server_tls = std::move(*context);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = 0;
  {
    Services services;
    for (const config::User& user : config.users) {
      auto user_store = (*store)->user(user.name);
      if (!user_store) {
        log(LogSeverity::Error, "popbridge", "cannot open the store of ", user.name, ": ",
            user_store.error().message);
        exit_code = 1;
        break;
      }
      services.users.emplace(
          user.name,
          std::make_unique<UserContext>(&loop, user.name, std::move(*user_store), services.hub));
    }
    auto lookup = [&services](std::string_view name) { return services.user(name); };
    if (exit_code == 0) {
      services.imap =
          std::make_unique<imap::ImapServer>(&loop, config, services.hub, lookup, server_tls);
      if (auto started = services.imap->start(); !started) {
        log(LogSeverity::Error, "popbridge", started.error());
        exit_code = 1;
      }
    }
    if (exit_code == 0) {
      services.scheduler = std::make_unique<pop::Scheduler>(&loop, config, lookup);
      services.imap->setAlertSource([&services](std::string_view user) {
        std::vector<std::string> alerts;
        if (!services.scheduler) return alerts;
        for (const pop::AccountStatus& account : services.scheduler->status()) {
          if (account.user != user || account.last_error.empty()) continue;
          std::string text = "POP account " + account.account;
          text +=
              account.disabled ? " is stopped after repeated login failures: " : " is failing: ";
          text += account.last_error;
          if (account.disabled) text += " (fix the password, then restart popbridge)";
          alerts.push_back(std::move(text));
        }
        return alerts;
      });
      services.imap->setActivityHook([&services](std::string_view user, std::string_view mailbox) {
        if (services.scheduler) services.scheduler->clientActivity(user, mailbox);
      });
      if (auto started = services.scheduler->start(); !started) {
        log(LogSeverity::Error, "popbridge", started.error());
        exit_code = 1;
      }
    }
    services.sigterm = watchSignal(&loop, services, SIGTERM);
    services.sigint = watchSignal(&loop, services, SIGINT);
    if (exit_code == 0) {
      log(LogSeverity::Info, "popbridge", "popbridge " POPBRIDGE_VERSION " serving ",
          config.users.size(), " users from ", config.data_dir.string());
      // Bodies a schema migration or the previous run left unindexed.
      for (auto& [name, user] : services.users) user->indexSoon();
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    services.stop();
    // Close callbacks and worker completions still queued run now; the services they reach
    // are alive until this scope ends.
    uv_run(&loop, UV_RUN_DEFAULT);
    services.imap.reset();
    services.scheduler.reset();
    services.sigterm.reset();
    services.sigint.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (const int closed = uv_loop_close(&loop); closed != 0) {
    log(LogSeverity::Error, "popbridge", "event loop did not close cleanly: ", uv_strerror(closed));
    return exit_code == 0 ? 1 : exit_code;
  }
  if (exit_code == 0) log(LogSeverity::Info, "popbridge", "stopped");
  return exit_code;
}

int storeCheck(const config::Config& config, const std::vector<std::string>& users) {
  auto store = store::Store::open(config.data_dir);
  if (!store) {
    std::fprintf(stderr, "popbridge: cannot open the store at %s: %s\n", config.data_dir.c_str(),
                 store.error().message.c_str());
    return 2;
  }
  std::vector<std::string> names = users;
  if (names.empty()) {
    for (const config::User& user : config.users) names.push_back(user.name);
  }
  int status = 0;
  for (const std::string& name : names) {
    auto report = (*store)->check(name);
    if (!report) {
      std::fprintf(stderr, "%s: cannot check: %s\n", name.c_str(), report.error().message.c_str());
      status = 1;
      continue;
    }
    for (const std::string& problem : report->problems) {
      std::printf("%s: problem: %s\n", name.c_str(), problem.c_str());
    }
    for (const std::string& orphan : report->orphans) {
      std::printf("%s: orphan blob (kept): %s\n", name.c_str(), orphan.c_str());
    }
    std::printf("%s: %llu messages, %zu problems, %zu orphans\n", name.c_str(),
                static_cast<unsigned long long>(report->messages), report->problems.size(),
                report->orphans.size());
    if (!report->problems.empty()) status = 1;
  }
  return status;
}

}  // namespace popbridge::proxy
