#include "proxy/server/control_commands.h"

#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/cli/progress.h"
#include "proxy/core/timer.h"
#include "proxy/pop/fetcher.h"
#include "proxy/pop/scheduler.h"
#include "proxy/server/account_selection.h"
#include "proxy/server/control_client.h"
#include "proxy/server/log.h"
#include "proxy/server/mailbox_hub.h"
#include "proxy/server/user_context.h"
#include "store/store.h"

namespace popbridge::proxy {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kStatusTimeout{15};

std::string utcTime(std::int64_t unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ago(std::int64_t when, std::int64_t now) {
  return cli::formatDuration(std::chrono::seconds(now - when)) + " ago";
}

std::string in(std::int64_t when, std::int64_t now) {
  return "in " + cli::formatDuration(std::chrono::seconds(when - now));
}

std::string notRunning(const config::Config& config, const std::string& detail) {
  return "popbridge: the daemon is not running (no answer on " + config.control_socket.string() +
         ": " + detail + ")";
}

void printAccount(const control::Message& account, std::int64_t now) {
  const std::string name =
      std::string(account.textOr("user", "?")) + "/" + std::string(account.textOr("account", "?"));
  const std::string_view state = account.textOr("state", "?");
  const std::string_view error = account.textOr("error", "");
  const std::int64_t next = account.numberOr("next_poll", 0);
  std::string headline = std::string(state);
  if (state == "disabled") {
    headline +=
        " after " + std::to_string(account.numberOr("failures", 0)) +
        " failed logins (fix the credentials, then reload popbridge or run popbridge sync " + name +
        ")";
  } else if (state == "backing-off") {
    headline += " after " + std::to_string(account.numberOr("failures", 0)) + " failures";
    if (next > 0) headline += " until " + utcTime(next);
  }
  std::printf("%s: %s\n", name.c_str(), headline.c_str());
  const std::int64_t last = account.numberOr("last_poll", 0);
  if (last == 0) {
    std::printf("  last poll:  none yet\n");
  } else if (account.textOr("last_result", "") == "ok") {
    std::printf("  last poll:  %s (%s), ok: %lld new of %lld on the server, %lld deleted\n",
                utcTime(last).c_str(), ago(last, now).c_str(),
                static_cast<long long>(account.numberOr("fetched", 0)),
                static_cast<long long>(account.numberOr("listed", 0)),
                static_cast<long long>(account.numberOr("deleted", 0)));
  } else {
    std::printf("  last poll:  %s (%s), failed: %s\n", utcTime(last).c_str(),
                ago(last, now).c_str(), std::string(error).c_str());
  }
  const std::int64_t oversize = account.numberOr("oversize_skipped", 0);
  const std::int64_t deferred = account.numberOr("deferred", 0);
  if (oversize > 0 || deferred > 0) {
    std::string left;
    if (oversize > 0) left = std::to_string(oversize) + " over max_message_size";
    if (deferred > 0) {
      if (!left.empty()) left += ", ";
      left += std::to_string(deferred) + " for the next polls (per-session limits)";
    }
    std::printf("  left:       %s\n", left.c_str());
  }
  if (account.flag("expire_conflict").value_or(false)) {
    const std::int64_t days = account.numberOr("expire_days", -1);
    const std::string when = days == 0  ? std::string("as soon as it is retrieved (EXPIRE 0)")
                             : days > 0 ? "after " + std::to_string(days) + " days (EXPIRE)"
                                        : std::string("per its EXPIRE");
    std::printf(
        "  warning:    the server deletes retrieved mail %s, earlier than the retention "
        "asks\n",
        when.c_str());
  }
  if (next > 0) {
    std::printf("  next poll:  %s (%s)\n", utcTime(next).c_str(), in(next, now).c_str());
  } else if (state == "pulling") {
    std::printf("  next poll:  after this one\n");
  } else {
    std::printf("  next poll:  none\n");
  }
  const std::int64_t messages = account.numberOr("messages", -1);
  const std::string folder(account.textOr("folder", "INBOX"));
  if (messages >= 0) {
    std::printf("  store:      %lld messages in %s\n", static_cast<long long>(messages),
                folder.c_str());
  } else {
    std::printf("  store:      %s (count unavailable)\n", folder.c_str());
  }
}

// ------------------------------------------------------------------ sync output

// What `popbridge sync` prints, from the daemon's messages or an in-process pull.
class SyncPrinter {
 public:
  SyncPrinter() : tty_(isatty(STDOUT_FILENO) == 1) {}

  void started(const std::string& name) {
    Account& account = accounts_[name];
    account.start = Clock::now();
    line(name + ": pulling");
  }

  void progress(const std::string& name, const cli::PullProgress& progress) {
    Account& account = accounts_[name];
    const auto now = Clock::now();
    const bool first = !account.announced;
    account.meter.update(progress, now);
    if (first) {
      account.announced = true;
      line(name + ": " + std::to_string(progress.messages_total) + " new messages (" +
           cli::formatBytes(progress.bytes_total) + ") to fetch");
    }
    const bool complete = progress.messages_done == progress.messages_total;
    if (tty_) {
      if (!complete && now - account.last_drawn < std::chrono::milliseconds(100)) return;
      account.last_drawn = now;
      const std::string prefix = name + " ";
      const std::size_t width = terminalWidth();
      const std::size_t room = width > prefix.size() + 1 ? width - prefix.size() - 1 : 0;
      std::printf("\r\033[K%s%s", prefix.c_str(), account.meter.bar(room).c_str());
      std::fflush(stdout);
      bar_shown_ = true;
      return;
    }
    if (progress.messages_total == 0) return;
    // Plain lines: one a second at most, and the last one.
    if (!complete && account.last_drawn != Clock::time_point{} &&
        now - account.last_drawn < std::chrono::seconds(1)) {
      return;
    }
    if (progress.messages_done == 0) return;
    account.last_drawn = now;
    line(name + ": " + account.meter.line());
  }

  void succeeded(const std::string& name, std::uint64_t listed, std::uint64_t fetched,
                 std::uint64_t bytes, std::uint64_t deleted) {
    const Account& account = accounts_[name];
    total_fetched_ += fetched;
    total_bytes_ += bytes;
    ++succeeded_;
    line(name + ": pulled " + std::to_string(fetched) + " new of " + std::to_string(listed) +
         " on the server (" + cli::formatBytes(bytes) + "), deleted " + std::to_string(deleted) +
         ", in " + seconds(Clock::now() - account.start));
  }

  void failed(const std::string& name, const std::string& error) {
    ++failed_;
    line(name + ": failed: " + error);
  }

  // The closing line; returns the exit code.
  int summary() {
    const std::string elapsed = seconds(Clock::now() - begin_);
    if (failed_ == 0) {
      line("done: " + std::to_string(total_fetched_) + " new messages (" +
           cli::formatBytes(total_bytes_) + ") from " + std::to_string(succeeded_) + " account" +
           (succeeded_ == 1 ? "" : "s") + " in " + elapsed);
      return cli::kExitOk;
    }
    line("failed: " + std::to_string(failed_) + " of " + std::to_string(failed_ + succeeded_) +
         " accounts (" + std::to_string(total_fetched_) + " new messages stored) in " + elapsed);
    return cli::kExitFailure;
  }

  void line(const std::string& text) {
    if (bar_shown_) {
      std::printf("\r\033[K");
      bar_shown_ = false;
    }
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

 private:
  struct Account {
    cli::ProgressMeter meter;
    Clock::time_point start = Clock::now();
    Clock::time_point last_drawn{};
    bool announced = false;
  };

  static std::string seconds(Clock::duration duration) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(ms) / 1000.0);
    return text;
  }

  static std::size_t terminalWidth() {
    winsize size{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
  }

  bool tty_;
  bool bar_shown_ = false;
  Clock::time_point begin_ = Clock::now();
  std::map<std::string, Account> accounts_;
  std::uint64_t total_fetched_ = 0;
  std::uint64_t total_bytes_ = 0;
  unsigned succeeded_ = 0;
  unsigned failed_ = 0;
};

std::string nameOf(const control::Message& message) {
  return std::string(message.textOr("user", "?")) + "/" +
         std::string(message.textOr("account", "?"));
}

std::uint64_t count(const control::Message& message, std::string_view key) {
  const std::int64_t value = message.numberOr(key, 0);
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

int syncThroughDaemon(ControlClient& client, const std::string& target, SyncPrinter& printer) {
  if (auto sent = client.send({control::RequestKind::Sync, target}); !sent) {
    std::fprintf(stderr, "popbridge: sync: %s\n", sent.error().c_str());
    return cli::kExitFailure;
  }
  while (true) {
    auto message = client.next(std::nullopt);
    if (!message) {
      printer.line("popbridge: sync: " + message.error());
      return cli::kExitFailure;
    }
    const std::string_view type = message->type();
    if (type == "warning") {
      printer.line("popbridge: warning: " + std::string(message->textOr("message", "")));
    } else if (type == "started") {
      printer.started(nameOf(*message));
    } else if (type == "progress") {
      printer.progress(
          nameOf(*message),
          cli::PullProgress{count(*message, "messages_done"), count(*message, "messages_total"),
                            count(*message, "bytes_done"), count(*message, "bytes_total")});
    } else if (type == "result") {
      if (message->flag("ok").value_or(false)) {
        printer.succeeded(nameOf(*message), count(*message, "listed"), count(*message, "fetched"),
                          count(*message, "bytes"), count(*message, "deleted"));
      } else {
        printer.failed(nameOf(*message), std::string(message->textOr("error", "unknown error")));
      }
    } else if (type == "done") {
      if (auto error = message->text("error")) {
        printer.line("popbridge: sync: " + std::string(*error));
        return cli::kExitFailure;
      }
      return printer.summary();
    }
  }
}

// ------------------------------------------------------------------ in-process pull

// Pulls the selected accounts one after the other on a private loop, as the daemon would.
class LocalPull {
 public:
  LocalPull(uv_loop_t* loop, const config::Config& config, std::vector<AccountRef> accounts,
            std::map<std::string, std::unique_ptr<UserContext>, std::less<>>& users,
            SyncPrinter& printer)
      : loop_(loop),
        config_(config),
        accounts_(std::move(accounts)),
        users_(users),
        printer_(printer),
        turn_(loop) {}

  void start() { next(); }

  void release() {
    turn_.stop();
    fetcher_.reset();
    finished_.reset();
  }

 private:
  void next() {
    finished_.reset();
    if (index_ == accounts_.size()) return;
    const AccountRef& ref = accounts_[index_++];
    const std::string name = ref.user + "/" + ref.account;
    const config::User* user = config_.findUser(ref.user);
    const config::PopAccount* account = nullptr;
    for (const config::PopAccount& candidate : user->accounts) {
      if (candidate.name == ref.account) account = &candidate;
    }
    printer_.started(name);
    auto tls = pop::clientTlsFor(ref.user, *account);
    if (!tls) {
      printer_.failed(name, tls.error());
      return next();
    }
    fetcher_ = std::make_unique<pop::Fetcher>(loop_, *account, *users_.at(ref.user), *tls);
    fetcher_->setProgress([this, name](const pop::TransferProgress& progress) {
      printer_.progress(name, cli::PullProgress{progress.messages_done, progress.messages_total,
                                                progress.bytes_done, progress.bytes_total});
    });
    fetcher_->start([this, name](Result<pop::PullStats, pop::PullError> result) {
      if (result) {
        printer_.succeeded(name, result->listed, result->fetched, result->bytes, result->deleted);
      } else {
        printer_.failed(name, result.error().message);
      }
      // Not destroyed inside its own callback (STYLE.md 5.3): the next step releases it.
      finished_ = std::move(fetcher_);
      turn_.start(std::chrono::milliseconds(0), [this] { next(); });
    });
  }

  uv_loop_t* loop_;
  const config::Config& config_;
  std::vector<AccountRef> accounts_;
  std::map<std::string, std::unique_ptr<UserContext>, std::less<>>& users_;
  SyncPrinter& printer_;
  std::size_t index_ = 0;
  std::unique_ptr<pop::Fetcher> fetcher_;
  std::unique_ptr<pop::Fetcher> finished_;
  Timer turn_;
};

int syncInProcess(const config::Config& config, const std::vector<AccountRef>& accounts,
                  SyncPrinter& printer) {
  // The fetcher's own log lines: only what needs attention, the printer tells the rest.
  setLogThreshold(LogSeverity::Warn);
  auto store = store::Store::open(config.data_dir);
  if (!store) {
    printer.line("popbridge: sync: cannot open the store at " + config.data_dir.string() + ": " +
                 store.error().message);
    return cli::kExitFailure;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = cli::kExitOk;
  {
    MailboxHub hub;
    std::map<std::string, std::unique_ptr<UserContext>, std::less<>> users;
    for (const AccountRef& ref : accounts) {
      if (users.count(ref.user) != 0) continue;
      auto user_store = (*store)->user(ref.user);
      if (!user_store) {
        printer.line("popbridge: sync: cannot open the store of " + ref.user + ": " +
                     user_store.error().message + " (is popbridge running without its socket?)");
        code = cli::kExitFailure;
        break;
      }
      users.emplace(ref.user,
                    std::make_unique<UserContext>(&loop, ref.user, std::move(*user_store), hub));
      if (const config::User* configured = config.findUser(ref.user)) {
        users.at(ref.user)->setQuotaLimits(
            store::QuotaLimits{configured->quota.storage, configured->quota.messages});
      }
    }
    if (code == cli::kExitOk) {
      LocalPull pull(&loop, config, accounts, users, printer);
      pull.start();
      uv_run(&loop, UV_RUN_DEFAULT);
      pull.release();
      uv_run(&loop, UV_RUN_DEFAULT);
      code = printer.summary();
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "popbridge: sync: the event loop did not close cleanly\n");
    return cli::kExitFailure;
  }
  return code;
}

}  // namespace

int statusCommand(const config::Config& config, const cli::StatusOptions& options) {
  auto client = ControlClient::connect(config.control_socket);
  if (!client) {
    if (client.error().kind == ControlConnectError::NotRunning) {
      std::fprintf(stderr, "%s\n", notRunning(config, client.error().message).c_str());
    } else {
      std::fprintf(stderr, "popbridge: status: cannot reach the daemon: %s\n",
                   client.error().message.c_str());
    }
    return cli::kExitFailure;
  }
  if (auto sent = client->send({control::RequestKind::Status, ""}); !sent) {
    std::fprintf(stderr, "popbridge: status: %s\n", sent.error().c_str());
    return cli::kExitFailure;
  }
  std::optional<control::Message> daemon;
  std::vector<control::Message> accounts;
  while (true) {
    auto message = client->next(kStatusTimeout);
    if (!message) {
      std::fprintf(stderr, "popbridge: status: %s\n", message.error().c_str());
      return cli::kExitFailure;
    }
    if (message->type() == "daemon") {
      daemon = std::move(*message);
    } else if (message->type() == "account") {
      accounts.push_back(std::move(*message));
    } else if (message->type() == "done") {
      if (!message->flag("ok").value_or(false)) {
        std::fprintf(stderr, "popbridge: status: %s\n",
                     std::string(message->textOr("error", "the daemon refused")).c_str());
        return cli::kExitFailure;
      }
      break;
    }
  }
  if (options.format == cli::OutputFormat::Json) {
    std::string out =
        "{\"daemon\":" + (daemon ? daemon->toJson() : std::string("{}")) + ",\"accounts\":[";
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      if (i > 0) out += ",";
      out += accounts[i].toJson();
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return cli::kExitOk;
  }
  if (daemon) {
    std::printf("popbridge %s running (pid %lld), %s: %lld users, %lld POP accounts\n",
                std::string(daemon->textOr("version", "?")).c_str(),
                static_cast<long long>(daemon->numberOr("pid", 0)),
                std::string(daemon->textOr("config", "?")).c_str(),
                static_cast<long long>(daemon->numberOr("users", 0)),
                static_cast<long long>(daemon->numberOr("accounts", 0)));
  }
  const std::int64_t now = unixNow();
  for (const control::Message& account : accounts) printAccount(account, now);
  return cli::kExitOk;
}

int syncCommand(const config::Config& config, const cli::SyncOptions& options) {
  auto selected = selectAccounts(config, options.target);
  if (!selected) {
    std::fprintf(stderr, "popbridge: sync: %s\n", selected.error().c_str());
    return cli::kExitUsage;
  }
  SyncPrinter printer;
  auto client = ControlClient::connect(config.control_socket);
  if (client) return syncThroughDaemon(*client, options.target, printer);
  if (client.error().kind != ControlConnectError::NotRunning) {
    std::fprintf(stderr, "popbridge: sync: cannot reach the daemon: %s\n",
                 client.error().message.c_str());
    return cli::kExitFailure;
  }
  printer.line(options.once ? "popbridge is not running: pulling in this process"
                            : "popbridge is not running: pulling once in this process (start "
                              "the daemon to keep polling)");
  return syncInProcess(config, *selected, printer);
}

}  // namespace popbridge::proxy
