#include "proxy/pop/scheduler.h"

#include <algorithm>
#include <random>

#include "proxy/server/log.h"
#include "proxy/tls/context.h"

namespace popbridge::proxy::pop {
namespace {

// Failing accounts wait at most this long between attempts (or their interval, if longer).
constexpr std::chrono::milliseconds kMaxBackoff = std::chrono::minutes(15);

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
      ref.timer->start(std::chrono::milliseconds(0), [this, &ref] { poll(ref); });
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

void Scheduler::poll(Account& account) {
  account.finished.reset();
  if (stopped_ || account.fetcher) return;
  account.fetcher =
      std::make_unique<Fetcher>(loop_, *account.account, *account.context, account.tls);
  account.fetcher->start([this, &account](Result<PullStats, std::string> result) {
    onPulled(account, std::move(result));
  });
}

void Scheduler::onPulled(Account& account, Result<PullStats, std::string> result) {
  const std::string& name = account.fetcher->logName();
  if (result) {
    account.failures = 0;
    if (result->fetched > 0 || result->deleted > 0) {
      log(LogSeverity::Info, name, "pulled ", result->fetched, " new of ", result->listed, " (",
          result->bytes, " bytes), deleted ", result->deleted);
    } else {
      log(LogSeverity::Debug, name, "nothing new (", result->listed, " on server)");
    }
  } else {
    ++account.failures;
    log(LogSeverity::Warn, name, "pull failed (attempt ", account.failures, "): ", result.error());
  }
  account.finished = std::move(account.fetcher);
  if (stopped_) return;
  account.timer->start(nextDelay(account), [this, &account] { poll(account); });
}

std::chrono::milliseconds Scheduler::nextDelay(const Account& account) {
  static thread_local std::minstd_rand random{std::random_device{}()};
  std::chrono::milliseconds delay = account.account->poll_interval;
  if (account.failures > 0) {
    const auto cap = std::max(kMaxBackoff, account.account->poll_interval);
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

}  // namespace popbridge::proxy::pop
