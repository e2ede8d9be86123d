#include "proxy/pop/scheduler.h"

#include <algorithm>
#include <random>

#include "proxy/server/log.h"
#include "proxy/tls/context.h"

namespace popbridge::proxy::pop {
namespace {

// Failing accounts wait at most this long between attempts (or their interval, if longer).
constexpr std::chrono::milliseconds kMaxBackoff = std::chrono::minutes(15);

bool sameMailbox(std::string_view a, std::string_view b) {
  // INBOX is case-insensitive (RFC 3501 5.1); config stores it as "INBOX".
  if (a.size() == 5 && b.size() == 5) {
    std::string upper(a);
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (upper == "INBOX") return b == "INBOX" || b == a;
  }
  return a == b;
}

}  // namespace

Result<std::shared_ptr<tls::Context>, std::string> clientTlsFor(const std::string& user,
                                                                const config::PopAccount& account) {
  if (account.tls == config::TlsMode::None) return std::shared_ptr<tls::Context>();
  const bool verify = account.verify == config::VerifyCertificates::Yes;
  if (!verify) {
    log(LogSeverity::Warn, "pop[" + user + "/" + account.name + "]",
        "certificate verification is OFF (verify_certificates: false)");
  }
  auto context =
      tls::Context::client(verify ? tls::Verify::Peer : tls::Verify::None, account.ca_file);
  if (!context) {
    return fail("users." + user + ".accounts." + account.name + ": " + context.error().message);
  }
  return std::move(*context);
}

Scheduler::Scheduler(uv_loop_t* loop, UserLookup users) : loop_(loop), users_(std::move(users)) {}

Scheduler::~Scheduler() { stop(); }

Result<void, std::string> Scheduler::start(const config::Config& config) {
  for (const config::User& user : config.users) {
    for (const config::PopAccount& account : user.accounts) {
      auto entry = std::make_unique<Account>();
      entry->user = user.name;
      entry->settings = account;
      entry->context = users_(user.name);
      if (entry->context == nullptr) return fail("user " + user.name + ": store not open");
      auto tls = clientTlsFor(user.name, account);
      if (!tls) return fail(tls.error());
      entry->tls = std::move(*tls);
      entry->timer = std::make_unique<Timer>(loop_);
      Account& ref = *entry;
      accounts_.push_back(std::move(entry));
      schedule(ref, std::chrono::milliseconds(0));
    }
  }
  return {};
}

Result<ReconfigureSummary, std::string> Scheduler::reconfigure(const config::Config& config) {
  // First everything that can fail, so that an error changes nothing.
  struct Planned {
    const config::User* user;
    const config::PopAccount* settings;
    Account* existing;  // null: added
    std::shared_ptr<tls::Context> tls;
    UserContext* context;
  };
  std::vector<Planned> planned;
  for (const config::User& user : config.users) {
    for (const config::PopAccount& account : user.accounts) {
      Planned plan{&user, &account, find(user.name, account.name), nullptr, users_(user.name)};
      if (plan.context == nullptr) return fail("user " + user.name + ": store not open");
      if (plan.existing == nullptr || !(plan.existing->settings == account)) {
        auto tls = clientTlsFor(user.name, account);
        if (!tls) return fail(tls.error());
        plan.tls = std::move(*tls);
      }
      planned.push_back(std::move(plan));
    }
  }
  ReconfigureSummary summary;
  std::vector<std::unique_ptr<Account>> kept;
  std::vector<std::unique_ptr<Account>> removed;
  for (auto& account : accounts_) {
    const bool stays = std::any_of(planned.begin(), planned.end(), [&](const Planned& plan) {
      return plan.existing == account.get();
    });
    (stays ? kept : removed).push_back(std::move(account));
  }
  accounts_.clear();
  for (Planned& plan : planned) {
    if (plan.existing == nullptr) {
      auto entry = std::make_unique<Account>();
      entry->user = plan.user->name;
      entry->settings = *plan.settings;
      entry->context = plan.context;
      entry->tls = std::move(plan.tls);
      entry->timer = std::make_unique<Timer>(loop_);
      log(LogSeverity::Info, "pop[" + entry->user + "/" + entry->settings.name + "]",
          "added by a configuration reload");
      ++summary.added;
      Account& ref = *entry;
      accounts_.push_back(std::move(entry));
      if (!stopped_) schedule(ref, std::chrono::milliseconds(0));
      continue;
    }
    auto it = std::find_if(kept.begin(), kept.end(),
                           [&](const auto& account) { return account.get() == plan.existing; });
    std::unique_ptr<Account> account = std::move(*it);
    kept.erase(it);
    const std::string name = "pop[" + account->user + "/" + account->settings.name + "]";
    const bool changed = !(account->settings == *plan.settings);
    if (changed) {
      ++summary.changed;
      if (account->fetcher) {
        // The running pull reads its settings; the new ones apply when it ends.
        account->next_settings = *plan.settings;
        account->next_tls = std::move(plan.tls);
        log(LogSeverity::Info, name, "settings changed; applied after the running pull");
      } else {
        account->settings = *plan.settings;
        account->tls = std::move(plan.tls);
        log(LogSeverity::Info, name, "settings changed by a configuration reload");
      }
    } else if (account->disabled) {
      ++summary.resumed;
      log(LogSeverity::Info, name, "enabled again by a configuration reload");
    }
    if (changed || account->disabled) {
      account->disabled = false;
      account->failures = 0;
      account->auth_failures = 0;
      if (!stopped_ && !account->fetcher) schedule(*account, std::chrono::milliseconds(0));
    }
    accounts_.push_back(std::move(account));
  }
  for (auto& account : removed) {
    log(LogSeverity::Info, "pop[" + account->user + "/" + account->settings.name + "]",
        account->fetcher ? "removed by a configuration reload; its running pull is abandoned"
                         : "removed by a configuration reload");
    ++summary.removed;
    account->fetcher.reset();
    notify(
        std::move(account->watches),
        fail(PullError{PullFailure::Permanent, "the account was removed from the configuration"}));
  }
  // Destroying a Fetcher never calls back, so the removed accounts can go now.
  removed.clear();
  return summary;
}

void Scheduler::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& account : accounts_) {
    account->timer.reset();
    account->fetcher.reset();
    account->finished.reset();
    account->next_poll.reset();
  }
  for (auto& account : accounts_) {
    notify(std::move(account->watches),
           fail(PullError{PullFailure::Temporary, "popbridge is stopping"}));
  }
}

Scheduler::Account* Scheduler::find(std::string_view user, std::string_view account) {
  for (auto& entry : accounts_) {
    if (entry->user == user && entry->settings.name == account) return entry.get();
  }
  return nullptr;
}

void Scheduler::notify(std::vector<Watch> watches, const Result<PullStats, PullError>& result) {
  for (Watch& watch : watches) {
    if (watch.observer.done) watch.observer.done(result);
  }
}

void Scheduler::schedule(Account& account, std::chrono::milliseconds delay) {
  // RFC 2449 6.5: never log in sooner than LOGIN-DELAY after the last login.
  const auto now = Clock::now();
  if (account.not_before > now) {
    delay = std::max(delay, std::chrono::ceil<std::chrono::milliseconds>(account.not_before - now));
  }
  account.next_poll = AccountStatus::WallClock::now() + delay;
  account.timer->start(delay, [this, &account] { poll(account); });
}

void Scheduler::poll(Account& account) {
  account.finished.reset();
  if (stopped_ || account.fetcher || account.disabled) return;
  if (account.not_before > Clock::now()) {
    schedule(account, std::chrono::milliseconds(0));
    return;
  }
  account.timer->stop();
  account.next_poll.reset();
  account.last_start = Clock::now();
  account.fetcher =
      std::make_unique<Fetcher>(loop_, account.settings, *account.context, account.tls);
  account.fetcher->setProgress([&account](const TransferProgress& progress) {
    for (const Watch& watch : account.watches) {
      if (watch.observer.progress) watch.observer.progress(progress);
    }
  });
  account.fetcher->start([this, &account](Result<PullStats, PullError> result) {
    onPulled(account, std::move(result));
  });
}

void Scheduler::onPulled(Account& account, Result<PullStats, PullError> result) {
  const std::string& name = account.fetcher->logName();
  std::optional<PullFailure> failure;
  account.last_poll = AccountStatus::WallClock::now();
  account.last_stats.reset();
  if (account.fetcher->loggedIn()) {
    if (auto delay = account.fetcher->loginDelay()) {
      account.not_before = Clock::now() + std::chrono::seconds(*delay);
    }
  }
  if (result) {
    account.failures = 0;
    account.auth_failures = 0;
    account.last_error.clear();
    account.last_stats = *result;
    if (result->fetched > 0 || result->deleted > 0) {
      log(LogSeverity::Info, name, "pulled ", result->fetched, " new of ", result->listed, " (",
          result->bytes, " bytes), deleted ", result->deleted);
    } else {
      log(LogSeverity::Debug, name, "nothing new (", result->listed, " on server)");
    }
  } else {
    failure = result.error().kind;
    ++account.failures;
    account.last_error = result.error().message;
    if (*failure == PullFailure::Auth) {
      ++account.auth_failures;
    } else if (account.fetcher->loggedIn()) {
      account.auth_failures = 0;
    }
    log(LogSeverity::Warn, name, "pull failed (attempt ", account.failures, ", ",
        toString(*failure), "): ", result.error().message);
    if (account.auth_failures >= kMaxAuthFailures) {
      account.disabled = true;
      log(LogSeverity::Error, name, "polling stopped after ", account.auth_failures,
          " authentication failures: ", account.last_error,
          " (fix the credentials, then reload or run popbridge sync)");
    }
  }
  account.finished = std::move(account.fetcher);
  if (account.next_settings) {
    // A reload changed the account while this pull ran: poll again now with the new settings.
    account.settings = std::move(*account.next_settings);
    account.tls = std::move(account.next_tls);
    account.next_settings.reset();
    account.disabled = false;
    account.failures = 0;
    account.auth_failures = 0;
    failure.reset();
    log(LogSeverity::Info, name, "new settings from the configuration reload apply now");
    if (!stopped_) schedule(account, std::chrono::milliseconds(0));
  } else if (!stopped_ && !account.disabled) {
    schedule(account, nextDelay(account, failure));
  } else {
    account.next_poll.reset();
  }
  // Last: an observer may call back into the scheduler.
  notify(std::move(account.watches), result);
}

std::chrono::milliseconds Scheduler::nextDelay(const Account& account,
                                               std::optional<PullFailure> failure) {
  static thread_local std::minstd_rand random{std::random_device{}()};
  std::chrono::milliseconds delay = account.settings.poll_interval;
  const auto cap = std::max(kMaxBackoff, account.settings.poll_interval);
  if (failure == PullFailure::Permanent) {
    // The server says retrying will not help; check back rarely.
    delay = cap;
  } else if (account.failures > 0) {
    const unsigned shift = std::min(account.failures - 1, 10u);
    delay = std::min<std::chrono::milliseconds>(cap, delay * (std::int64_t{1} << shift));
  }
  // Up to 10% jitter so many accounts do not poll in lockstep.
  const auto spread = delay.count() / 10;
  if (spread > 0) {
    std::uniform_int_distribution<long long> jitter(0, spread);
    delay += std::chrono::milliseconds(jitter(random));
  }
  return delay;
}

void Scheduler::clientActivity(std::string_view user, std::string_view mailbox) {
  if (stopped_) return;
  const auto now = Clock::now();
  for (auto& account : accounts_) {
    if (account->user != user || account->fetcher || account->disabled) continue;
    if (!mailbox.empty() && !sameMailbox(mailbox, account->settings.folder)) continue;
    if (account->last_start && now - *account->last_start < kActivityMinInterval) continue;
    if (account->failures > 0) continue;  // backing off: activity does not shorten that
    schedule(*account, std::chrono::milliseconds(0));
  }
}

bool Scheduler::resume(std::string_view user, std::string_view account_name) {
  bool found = false;
  for (auto& account : accounts_) {
    if (account->user != user) continue;
    if (!account_name.empty() && account->settings.name != account_name) continue;
    found = true;
    if (account->disabled) {
      log(LogSeverity::Info, "pop[" + account->user + "/" + account->settings.name + "]",
          "enabled again on request");
    }
    account->disabled = false;
    account->failures = 0;
    account->auth_failures = 0;
    if (!stopped_ && !account->fetcher) schedule(*account, std::chrono::milliseconds(0));
  }
  return found;
}

std::optional<std::uint64_t> Scheduler::sync(std::string_view user, std::string_view account_name,
                                             PullObserver observer) {
  Account* account = find(user, account_name);
  if (stopped_ || account == nullptr || account_name.empty()) return std::nullopt;
  resume(user, account_name);
  const std::uint64_t id = next_watch_++;
  account->watches.push_back(Watch{id, std::move(observer)});
  return id;
}

void Scheduler::unwatch(std::uint64_t id) {
  for (auto& account : accounts_) {
    std::erase_if(account->watches, [id](const Watch& watch) { return watch.id == id; });
  }
}

std::vector<AccountStatus> Scheduler::status() const {
  std::vector<AccountStatus> out;
  out.reserve(accounts_.size());
  for (const auto& account : accounts_) {
    AccountStatus status;
    status.user = account->user;
    status.account = account->settings.name;
    status.folder = account->settings.folder;
    status.running = account->fetcher != nullptr;
    status.disabled = account->disabled;
    status.failures = account->failures;
    status.last_error = account->last_error;
    status.last_poll = account->last_poll;
    status.last_stats = account->last_stats;
    if (!account->disabled && !account->fetcher) status.next_poll = account->next_poll;
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace popbridge::proxy::pop
