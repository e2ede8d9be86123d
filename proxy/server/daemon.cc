#include "proxy/server/daemon.h"

#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "proxy/core/uv_handle.h"
#include "proxy/core/worker.h"
#include "proxy/imap/server.h"
#include "proxy/pop/scheduler.h"
#include "proxy/server/account_selection.h"
#include "proxy/server/control_protocol.h"
#include "proxy/server/control_server.h"
#include "proxy/server/index_scheduler.h"
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

bool sameListeners(const config::Config& a, const config::Config& b) {
  if (a.listeners.size() != b.listeners.size()) return false;
  for (std::size_t i = 0; i < a.listeners.size(); ++i) {
    if (a.listeners[i].address != b.listeners[i].address ||
        a.listeners[i].tls != b.listeners[i].tls) {
      return false;
    }
  }
  return true;
}

std::int64_t unixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

constexpr const char* kLog = "popbridge";
// Progress lines to a `popbridge sync` client at most this often (plus the last one).
constexpr std::chrono::milliseconds kProgressInterval{100};

// Everything that lives on the loop; destroyed before the loop is closed.
class Services {
 public:
  using ReloadDone = std::function<void(bool ok, const std::string& message)>;

  Services(uv_loop_t* loop, store::Store& store, config::Config config)
      : loop_(loop), store_(store), config_(std::move(config)) {}

  uv_loop_t* loop_;
  store::Store& store_;
  // The running configuration. The IMAP server reads users and password hashes through a
  // reference to it, so a reload assigns a new value here rather than replacing the object.
  config::Config config_;
  MailboxHub hub;
  // Every user's search indexing takes turns here, in the daemon's idle time; declared before
  // the users, which leave it when destroyed.
  IndexScheduler indexing{loop_};
  std::map<std::string, std::unique_ptr<UserContext>, std::less<>> users;
  // Users a reload removed: open sessions may still use them; new logins are refused.
  std::map<std::string, std::unique_ptr<UserContext>, std::less<>> retired;
  std::unique_ptr<imap::ImapServer> imap;
  std::unique_ptr<pop::Scheduler> scheduler;
  std::unique_ptr<ControlServer> control;
  std::vector<std::unique_ptr<UvHandle<uv_signal_t>>> signals;
  bool stopping = false;

  UserContext* user(std::string_view name) {
    const auto it = users.find(name);
    return it == users.end() ? nullptr : it->second.get();
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    log(LogSeverity::Info, kLog, "stopping");
    // Pending search indexing waits for the next start; an index job under way finishes.
    for (auto& [name, user] : users) user->stopIndexing();
    indexing.stop();
    if (imap) imap->stop();
    if (scheduler) scheduler->stop();
    if (control) control->stop();
    for (auto& handle : signals) handle->close();
  }

  // ---------------------------------------------------------------- control requests

  void onRequest(std::uint64_t id, const control::Request& request) {
    switch (request.kind) {
      case control::RequestKind::Status:
        return answerStatus(id);
      case control::RequestKind::Sync:
        // The configuration is read again first, as a reload does: whoever asks for a pull
        // now has often just fixed a password file. A broken file is reported and the pull
        // goes ahead with the running configuration.
        return reload([this, id, target = request.target](bool ok, const std::string& message) {
          if (!control || !control->alive(id)) return;
          if (!ok) control->send(id, control::Message("warning").set("message", message));
          answerSync(id, target);
        });
      case control::RequestKind::Reload:
        return reload([this, id](bool ok, const std::string& message) {
          if (!control) return;
          control->send(
              id, control::Message("done").set("ok", ok).set(ok ? "message" : "error", message));
          control->finish(id);
        });
    }
  }

  void onControlClosed(std::uint64_t id) {
    const auto it = sync_watches_.find(id);
    if (it == sync_watches_.end()) return;
    std::vector<std::uint64_t> watches = std::move(it->second);
    sync_watches_.erase(it);
    if (!scheduler) return;
    for (std::uint64_t watch : watches) scheduler->unwatch(watch);
  }

  void answerStatus(std::uint64_t id) {
    struct Gather {
      std::vector<pop::AccountStatus> accounts;
      std::map<std::string, std::map<std::string, std::uint32_t>, std::less<>> counts;
      std::size_t pending = 0;
    };
    auto gather = std::make_shared<Gather>();
    if (scheduler) gather->accounts = scheduler->status();
    std::vector<UserContext*> contexts;
    for (const pop::AccountStatus& account : gather->accounts) {
      if (gather->counts.count(account.user) != 0) continue;
      gather->counts[account.user];
      if (UserContext* context = user(account.user)) contexts.push_back(context);
    }
    gather->pending = contexts.size();
    if (contexts.empty()) return sendStatus(id, *gather);
    for (UserContext* context : contexts) {
      context->read<store::Result<std::vector<store::MailboxInfo>>>(
          [](store::UserStore& s) { return s.listMailboxes(); },
          [this, id, gather,
           name = context->name()](store::Result<std::vector<store::MailboxInfo>> boxes) {
            if (boxes) {
              auto& counts = gather->counts[name];
              for (const store::MailboxInfo& box : *boxes) counts[box.name] = box.messages;
            }
            if (--gather->pending == 0) sendStatus(id, *gather);
          });
    }
  }

  template <class Gather>
  void sendStatus(std::uint64_t id, const Gather& gather) {
    if (!control) return;
    control->send(id, control::Message("daemon")
                          .set("version", POPBRIDGE_VERSION)
                          .set("pid", static_cast<std::int64_t>(::getpid()))
                          .set("config", config_.source.string())
                          .set("users", config_.users.size())
                          .set("accounts", gather.accounts.size()));
    for (const pop::AccountStatus& account : gather.accounts) {
      control::Message message("account");
      message.set("user", account.user).set("account", account.account);
      message.set("folder", account.folder);
      std::string state = "idle";
      if (account.running) {
        state = "pulling";
      } else if (account.disabled) {
        state = "disabled";
      } else if (account.failures > 0) {
        state = "backing-off";
      }
      message.set("state", state).set("failures", account.failures);
      message.set("error", account.last_error);
      message.set("last_poll", account.last_poll ? unixSeconds(*account.last_poll) : 0);
      message.set("last_result", !account.last_poll   ? "none"
                                 : account.last_stats ? "ok"
                                                      : "failed");
      if (account.last_stats) {
        message.set("fetched", account.last_stats->fetched)
            .set("listed", account.last_stats->listed)
            .set("bytes", account.last_stats->bytes)
            .set("deleted", account.last_stats->deleted)
            .set("oversize_skipped", account.last_stats->oversize_skipped)
            .set("deferred", account.last_stats->deferred)
            .set("expire_conflict", account.last_stats->expire_conflict);
        // RFC 2449 6.7: the server's EXPIRE in days; absent when not announced or NEVER.
        const auto& expire = account.last_stats->expire_days;
        if (expire && *expire != std::numeric_limits<std::uint32_t>::max()) {
          message.set("expire_days", *expire);
        }
      }
      message.set("next_poll", account.next_poll ? unixSeconds(*account.next_poll) : 0);
      std::int64_t messages = -1;
      if (const auto user_counts = gather.counts.find(account.user);
          user_counts != gather.counts.end()) {
        const auto folder = user_counts->second.find(account.folder);
        messages = folder == user_counts->second.end() ? 0 : folder->second;
      }
      message.set("messages", messages);
      control->send(id, message);
    }
    control->send(id, control::Message("done").set("ok", true));
    control->finish(id);
  }

  void answerSync(std::uint64_t id, const std::string& target) {
    auto selected = selectAccounts(config_, target);
    if (!selected || !scheduler || stopping) {
      control->send(id, control::Message("done")
                            .set("ok", false)
                            .set("error", selected ? std::string("popbridge is stopping")
                                                   : selected.error()));
      control->finish(id);
      return;
    }
    struct SyncState {
      std::size_t remaining = 0;
      bool ok = true;
    };
    auto state = std::make_shared<SyncState>();
    state->remaining = selected->size();
    std::vector<std::uint64_t>& watches = sync_watches_[id];
    for (const AccountRef& ref : *selected) {
      control->send(id,
                    control::Message("started").set("user", ref.user).set("account", ref.account));
      auto last_sent = std::make_shared<std::optional<std::chrono::steady_clock::time_point>>();
      pop::PullObserver observer;
      observer.progress = [this, id, ref, last_sent](const pop::TransferProgress& progress) {
        const auto now = std::chrono::steady_clock::now();
        const bool last = progress.messages_done == progress.messages_total;
        if (!last && *last_sent && now - **last_sent < kProgressInterval) return;
        *last_sent = now;
        if (!control) return;
        control->send(id, control::Message("progress")
                              .set("user", ref.user)
                              .set("account", ref.account)
                              .set("messages_done", progress.messages_done)
                              .set("messages_total", progress.messages_total)
                              .set("bytes_done", progress.bytes_done)
                              .set("bytes_total", progress.bytes_total));
      };
      observer.done = [this, id, ref, state](const Result<pop::PullStats, pop::PullError>& result) {
        control::Message message("result");
        message.set("user", ref.user).set("account", ref.account).set("ok", result.has_value());
        if (result) {
          message.set("listed", result->listed)
              .set("fetched", result->fetched)
              .set("bytes", result->bytes)
              .set("deleted", result->deleted);
        } else {
          state->ok = false;
          message.set("error", result.error().message)
              .set("failure", std::string(pop::toString(result.error().kind)));
        }
        if (!control) return;
        control->send(id, message);
        if (--state->remaining == 0) {
          sync_watches_.erase(id);
          control->send(id, control::Message("done").set("ok", state->ok));
          control->finish(id);
        }
      };
      if (auto watch = scheduler->sync(ref.user, ref.account, std::move(observer))) {
        watches.push_back(*watch);
        log(LogSeverity::Info, kLog, "sync of ", ref.user, "/", ref.account, " requested");
      } else {
        // Configured but unknown to the scheduler: only while stopping.
        state->ok = false;
        control->send(id, control::Message("result")
                              .set("user", ref.user)
                              .set("account", ref.account)
                              .set("ok", false)
                              .set("error", "not being polled"));
        if (--state->remaining == 0) {
          sync_watches_.erase(id);
          control->send(id, control::Message("done").set("ok", false));
          control->finish(id);
          return;
        }
      }
    }
  }

  // ---------------------------------------------------------------- reload (SIGHUP)

  // Re-reads the config file and applies what can change while running; `done` (loop thread)
  // hears the outcome, which is logged too. Reloads run one at a time; a request during one
  // waits for the next.
  void reload(ReloadDone done) {
    reload_waiting_.push_back(std::move(done));
    if (!reloading_) startReload();
  }

 private:
  struct Loaded {
    std::optional<Result<config::Config, config::ConfigError>> config;
    std::map<std::string, store::Result<std::shared_ptr<store::UserStore>>> stores;
  };

  void startReload() {
    reloading_ = true;
    auto callers = std::make_shared<std::vector<ReloadDone>>(std::move(reload_waiting_));
    reload_waiting_.clear();
    log(LogSeverity::Info, kLog, "reloading ", config_.source.string());
    std::vector<std::string> known;
    for (const auto& [name, context] : users) known.push_back(name);
    for (const auto& [name, context] : retired) known.push_back(name);
    auto loaded = std::make_shared<Loaded>();
    // Reading files and opening stores (SQLite) stays off the loop thread.
    runOnWorker(
        loop_,
        [loaded, source = config_.source, known = std::move(known), &store = store_] {
          loaded->config.emplace(config::loadConfig(source));
          if (!*loaded->config) return;
          for (const config::User& user : (*loaded->config)->users) {
            if (std::find(known.begin(), known.end(), user.name) != known.end()) continue;
            loaded->stores.emplace(user.name, store.user(user.name));
          }
        },
        [this, loaded, callers] {
          reloading_ = false;
          auto [ok, message] = applyReload(*loaded);
          for (const ReloadDone& done : *callers) {
            if (done) done(ok, message);
          }
          if (!reload_waiting_.empty() && !stopping) startReload();
        });
  }

  std::pair<bool, std::string> applyReload(Loaded& loaded) {
    if (stopping) return {false, "popbridge is stopping"};
    if (!*loaded.config) {
      const std::string message =
          "reload failed, keeping the running configuration: " + loaded.config->error().toString();
      log(LogSeverity::Error, kLog, message);
      return {false, message};
    }
    for (auto& [name, opened] : loaded.stores) {
      if (!opened) {
        const std::string message =
            "reload failed, keeping the running configuration: cannot "
            "open the store of " +
            name + ": " + opened.error().message;
        log(LogSeverity::Error, kLog, message);
        return {false, message};
      }
    }
    config::Config next = std::move(**loaded.config);
    // What the listeners and the store were built from needs a restart; it is kept as it is
    // (rather than half-applied) and said so.
    std::vector<std::string> restart;
    if (next.data_dir != config_.data_dir) restart.emplace_back("data_dir");
    if (next.control_socket != config_.control_socket) restart.emplace_back("control_socket");
    if (!sameListeners(next, config_)) restart.emplace_back("imap.listen");
    if (next.tls_cert != config_.tls_cert || next.tls_key != config_.tls_key) {
      restart.emplace_back("imap.tls");
    }
    if (next.plaintext_auth != config_.plaintext_auth) restart.emplace_back("imap.plaintext_auth");
    if (next.auth_failure_delay != config_.auth_failure_delay) {
      restart.emplace_back("imap.auth_failure_delay");
    }
    if (next.max_command_rate != config_.max_command_rate) {
      restart.emplace_back("imap.max_command_rate");
    }
    // Sessions advertise APPENDLIMIT from the start; a new value needs new sessions.
    if (next.append_limit != config_.append_limit) restart.emplace_back("imap.append_limit");
    next.data_dir = config_.data_dir;
    next.control_socket = config_.control_socket;
    next.listeners = config_.listeners;
    next.tls_cert = config_.tls_cert;
    next.tls_key = config_.tls_key;
    next.plaintext_auth = config_.plaintext_auth;
    next.auth_failure_delay = config_.auth_failure_delay;
    next.max_command_rate = config_.max_command_rate;
    next.append_limit = config_.append_limit;

    // Users first: the scheduler finds contexts through the lookup.
    std::vector<std::string> added_users;
    for (const config::User& configured : next.users) {
      if (users.count(configured.name) != 0) continue;
      if (auto old = retired.find(configured.name); old != retired.end()) {
        users.emplace(configured.name, std::move(old->second));
        retired.erase(old);
      } else {
        users.emplace(configured.name, std::make_unique<UserContext>(
                                           loop_, configured.name,
                                           std::move(*loaded.stores.at(configured.name)), hub));
        users.at(configured.name)->setIndexScheduler(&indexing);
        users.at(configured.name)->indexSoon();  // bodies an older store left unindexed
      }
      added_users.push_back(configured.name);
    }
    auto applied = scheduler->reconfigure(next);
    if (!applied) {
      for (const std::string& name : added_users) {
        retired.emplace(name, std::move(users.at(name)));
        users.erase(name);
      }
      const std::string message =
          "reload failed, keeping the running configuration: " + applied.error();
      log(LogSeverity::Error, kLog, message);
      return {false, message};
    }
    std::size_t removed_users = 0;
    for (auto it = users.begin(); it != users.end();) {
      if (next.findUser(it->first) != nullptr) {
        ++it;
        continue;
      }
      log(LogSeverity::Info, kLog, "user ", it->first,
          " removed: new logins are refused, open sessions last until they log out");
      ++removed_users;
      retired.emplace(it->first, std::move(it->second));
      it = users.erase(it);
    }
    config_ = std::move(next);
    for (const config::User& configured : config_.users) {
      if (UserContext* context = user(configured.name)) {
        context->setQuotaLimits(
            store::QuotaLimits{configured.quota.storage, configured.quota.messages});
      }
    }
    setLogThreshold(severityOf(config_.log_level));
    std::string message =
        "reloaded " + config_.source.string() + ": POP accounts " + std::to_string(applied->added) +
        " added, " + std::to_string(applied->removed) + " removed, " +
        std::to_string(applied->changed) + " changed, " + std::to_string(applied->resumed) +
        " enabled again; users " + std::to_string(added_users.size()) + " added, " +
        std::to_string(removed_users) + " removed";
    log(LogSeverity::Info, kLog, message);
    for (const std::string& key : restart) {
      const std::string note = key +
                               " changed: restart popbridge to apply it (the running "
                               "value is kept until then)";
      log(LogSeverity::Warn, kLog, note);
      message += "; " + note;
    }
    return {true, message};
  }

  bool reloading_ = false;
  std::vector<ReloadDone> reload_waiting_;
  std::map<std::uint64_t, std::vector<std::uint64_t>> sync_watches_;  // control id -> watches
};

void onStopSignal(uv_signal_t* handle, int /*signum*/) noexcept {
  if (auto* services = static_cast<Services*>(handle->data)) services->stop();
}

void onHangup(uv_signal_t* handle, int /*signum*/) noexcept {
  auto* services = static_cast<Services*>(handle->data);
  if (services == nullptr || services->stopping) return;
  log(LogSeverity::Info, kLog, "SIGHUP: reloading the configuration");
  services->reload(nullptr);
}

std::unique_ptr<UvHandle<uv_signal_t>> watchSignal(uv_loop_t* loop, Services& services, int signum,
                                                   uv_signal_cb callback) {
  auto handle = std::make_unique<UvHandle<uv_signal_t>>();
  uv_signal_init(loop, handle->get());
  handle->get()->data = &services;
  uv_signal_start(handle->get(), callback, signum);
  return handle;
}

}  // namespace

int serve(const config::Config& initial_config) {
  setLogThreshold(severityOf(initial_config.log_level));
  // A client that hangs up mid-write must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  configureWorkerPool();  // before the first store job starts libuv's pool

  auto store = store::Store::open(initial_config.data_dir);
  if (!store) {
    log(LogSeverity::Error, kLog, "cannot open the store at ", initial_config.data_dir.string(),
        ": ", store.error().message);
    return 1;
  }
  std::shared_ptr<tls::Context> server_tls;
  if (needsServerTls(initial_config)) {
    auto context = tls::Context::server(initial_config.tls_cert, initial_config.tls_key);
    if (!context) {
      log(LogSeverity::Error, kLog, "imap.tls: ", context.error().message);
      return 1;
    }
    server_tls = std::move(*context);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = 0;
  {
    Services services(&loop, **store, initial_config);
    const config::Config& config = services.config_;
    for (const config::User& user : config.users) {
      auto user_store = (*store)->user(user.name);
      if (!user_store) {
        log(LogSeverity::Error, kLog, "cannot open the store of ", user.name, ": ",
            user_store.error().message);
        exit_code = 1;
        break;
      }
      services.users.emplace(
          user.name,
          std::make_unique<UserContext>(&loop, user.name, std::move(*user_store), services.hub));
      services.users.at(user.name)->setIndexScheduler(&services.indexing);
      services.users.at(user.name)->setQuotaLimits(
          store::QuotaLimits{user.quota.storage, user.quota.messages});
    }
    if (exit_code == 0) {
      // Before anything starts a worker thread (ControlServer::start narrows the umask).
      services.control = std::make_unique<ControlServer>(
          &loop, config.control_socket,
          [&services](std::uint64_t id, const control::Request& request) {
            services.onRequest(id, request);
          },
          [&services](std::uint64_t id) { services.onControlClosed(id); });
      if (auto started = services.control->start(); !started) {
        log(LogSeverity::Error, kLog, started.error());
        exit_code = 1;
      }
    }
    auto lookup = [&services](std::string_view name) { return services.user(name); };
    if (exit_code == 0) {
      services.imap =
          std::make_unique<imap::ImapServer>(&loop, config, services.hub, lookup, server_tls);
      if (auto started = services.imap->start(); !started) {
        log(LogSeverity::Error, kLog, started.error());
        exit_code = 1;
      }
    }
    if (exit_code == 0) {
      services.scheduler = std::make_unique<pop::Scheduler>(&loop, lookup);
      services.imap->setAlertSource([&services](std::string_view user) {
        std::vector<std::string> alerts;
        if (!services.scheduler) return alerts;
        for (const pop::AccountStatus& account : services.scheduler->status()) {
          if (account.user != user || account.last_error.empty()) continue;
          std::string text = "POP account " + account.account;
          text +=
              account.disabled ? " is stopped after repeated login failures: " : " is failing: ";
          text += account.last_error;
          if (account.disabled) {
            text += " (fix the password, then reload popbridge or run popbridge sync " +
                    account.user + "/" + account.account + ")";
          }
          alerts.push_back(std::move(text));
        }
        return alerts;
      });
      services.imap->setActivityHook([&services](std::string_view user, std::string_view mailbox) {
        if (services.scheduler) services.scheduler->clientActivity(user, mailbox);
      });
      if (auto started = services.scheduler->start(config); !started) {
        log(LogSeverity::Error, kLog, started.error());
        exit_code = 1;
      }
    }
    services.signals.push_back(watchSignal(&loop, services, SIGTERM, onStopSignal));
    services.signals.push_back(watchSignal(&loop, services, SIGINT, onStopSignal));
    services.signals.push_back(watchSignal(&loop, services, SIGHUP, onHangup));
    if (exit_code == 0) {
      log(LogSeverity::Info, kLog, "popbridge " POPBRIDGE_VERSION " serving ", config.users.size(),
          " users from ", config.data_dir.string());
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
    services.control.reset();
    services.signals.clear();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (const int closed = uv_loop_close(&loop); closed != 0) {
    log(LogSeverity::Error, kLog, "event loop did not close cleanly: ", uv_strerror(closed));
    return exit_code == 0 ? 1 : exit_code;
  }
  if (exit_code == 0) log(LogSeverity::Info, kLog, "stopped");
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
