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

Scheduler::Scheduler(uv_loop_t* loop, const config::Config& config, UserLookup users)
    : loop_(loop), config_(config), users_(std::move(users)) {}

Scheduler::~Scheduler() { stop(); }

Result<void, std::string> Scheduler::start() {
  for (const config::User& user : config_.users) {
    for (const config::PopAccount& account : user.accounts) {
      auto entry = std::make_unique<Account>();
      entry->user = &user;
      entry->account = &account;
      entry->context = users_(user.name);
      if (entry->context == nullptr) return fail("user " + user.name + ": store not open");
      if (account.tls != config::TlsMode::None) {
        const bool verify = account.verify == config::VerifyCertificates::Yes;
        if (!verify) {
          log(LogSeverity::Warn, "pop[" + user.name + "/" + account.name + "]",
              "certificate verification is OFF (verify_certificates: false)");
        }
        auto context =
            tls::Context::client(verify ? tls::Verify::Peer : tls::Verify::None, account.ca_file);
        if (!context) {
          return fail("users." + user.name + ".accounts." + account.name + ": " +
                      context.error().message);
        }
        entry->tls = std::move(*context);
      }
      entry->timer = std::make_unique<Timer>(loop_);
      Account& ref = *entry;
      accounts_.push_back(std::move(entry));
      schedule(ref, std::chrono::milliseconds(0));
    }
  }
  return {};
}

void Scheduler::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& account : accounts_) {
    account->timer.reset();
    account->fetcher.reset();
    account->finished.reset();
  }
}

void Scheduler::schedule(Account& account, std::chrono::milliseconds delay) {
  // RFC 2449 6.5: never log in sooner than LOGIN-DELAY after the last login.
  const auto now = Clock::now();
  if (account.not_before > now) {
    delay = std::max(delay, std::chrono::ceil<std::chrono::milliseconds>(account.not_before - now));
  }
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
  account.last_start = Clock::now();
  account.fetcher =
      std::make_unique<Fetcher>(loop_, *account.account, *account.context, account.tls);
  account.fetcher->start([this, &account](Result<PullStats, PullError> result) {
    onPulled(account, std::move(result));
  });
}

void Scheduler::onPulled(Account& account, Result<PullStats, PullError> result) {
  const std::string& name = account.fetcher->logName();
  std::optional<PullFailure> failure;
  if (account.fetcher->loggedIn()) {
    if (auto delay = account.fetcher->loginDelay()) {
      account.not_before = Clock::now() + std::chrono::seconds(*delay);
    }
  }
  if (result) {
    account.failures = 0;
    account.auth_failures = 0;
    account.last_error.clear();
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
  if (stopped_ || account.disabled) return;
  schedule(account, nextDelay(account, failure));
}

std::chrono::milliseconds Scheduler::nextDelay(const Account& account,
                                               std::optional<PullFailure> failure) {
  static thread_local std::minstd_rand random{std::random_device{}()};
  std::chrono::milliseconds delay = account.account->poll_interval;
  const auto cap = std::max(kMaxBackoff, account.account->poll_interval);
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
    if (account->user->name != user || account->fetcher || account->disabled) continue;
    if (!mailbox.empty() && !sameMailbox(mailbox, account->account->folder)) continue;
    if (account->last_start && now - *account->last_start < kActivityMinInterval) continue;
    if (account->failures > 0) continue;  // backing off: activity does not shorten that
    schedule(*account, std::chrono::milliseconds(0));
  }
}

bool Scheduler::resume(std::string_view user, std::string_view account_name) {
  bool found = false;
  for (auto& account : accounts_) {
    if (account->user->name != user) continue;
    if (!account_name.empty() && account->account->name != account_name) continue;
    found = true;
    account->disabled = false;
    account->failures = 0;
    account->auth_failures = 0;
    if (!stopped_ && !account->fetcher) schedule(*account, std::chrono::milliseconds(0));
  }
  return found;
}

std::vector<AccountStatus> Scheduler::status() const {
  std::vector<AccountStatus> out;
  out.reserve(accounts_.size());
  for (const auto& account : accounts_) {
    out.push_back(AccountStatus{account->user->name, account->account->name,
                                account->fetcher != nullptr, account->disabled, account->failures,
                                account->last_error});
  }
  return out;
}

}  // namespace popbridge::proxy::pop
