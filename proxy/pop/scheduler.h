#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "proxy/config/config.h"
#include "proxy/core/timer.h"
#include "proxy/pop/fetcher.h"

namespace popbridge::proxy {
class UserContext;
}

namespace popbridge::proxy::pop {

// Where one account's polling stands, for `popbridge status` and the IMAP login [ALERT].
struct AccountStatus {
  using WallClock = std::chrono::system_clock;
  std::string user;
  std::string account;
  std::string folder;
  bool running = false;                            // a pull is in progress
  bool disabled = false;                           // stopped after repeated authentication failures
  unsigned failures = 0;                           // consecutive failed pulls
  std::string last_error;                          // empty after a successful pull
  std::optional<WallClock::time_point> last_poll;  // when the last pull ended
  std::optional<PullStats> last_stats;             // what the last pull did, if it succeeded
  std::optional<WallClock::time_point> next_poll;  // when the next poll is due (none if disabled)
};

// What a reconfigure() changed.
struct ReconfigureSummary {
  unsigned added = 0;
  unsigned removed = 0;
  unsigned changed = 0;  // settings differ (password, host, interval, ...)
  unsigned resumed = 0;  // unchanged but disabled: enabled again
};

// Follows one pull for `popbridge sync`. Both run on the loop thread.
struct PullObserver {
  std::function<void(const TransferProgress&)> progress;          // may be empty
  std::function<void(const Result<PullStats, PullError>&)> done;  // runs once
};

// The client TLS context for an account (null when its tls is none); an error names the
// account's CA file problem. Logs a warning when certificate verification is off.
Result<std::shared_ptr<tls::Context>, std::string> clientTlsFor(const std::string& user,
                                                                const config::PopAccount& account);

// Polls every configured POP account: one session per maildrop at a time, every
// poll_interval (with jitter), backing off exponentially while an account keeps failing, never
// logging in sooner than the server's LOGIN-DELAY allows (RFC 2449 6.5), and giving up on an
// account after kMaxAuthFailures consecutive authentication failures until resume(), sync() or
// a reconfigure(). Keeps its own copy of every account's settings. Loop thread only.
class Scheduler {
 public:
  using UserLookup = std::function<UserContext*(std::string_view name)>;

  // Consecutive [AUTH]-type login failures after which an account stops polling.
  static constexpr unsigned kMaxAuthFailures = 3;
  // Client activity polls at once only if the last poll started at least this long ago.
  static constexpr std::chrono::milliseconds kActivityMinInterval{std::chrono::seconds(10)};

  // `users` finds each configured user's context; a context must outlive its accounts here.
  Scheduler(uv_loop_t* loop, UserLookup users);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Takes every account of `config`, prepares TLS contexts and schedules each account's first
  // poll at once. An error names the account (a CA file that cannot be read, say).
  Result<void, std::string> start(const config::Config& config);
  // Applies a new configuration: removed accounts stop (a running pull is abandoned), added
  // ones poll at once, changed ones take their new settings (after a running pull ends) and
  // poll at once, disabled ones are enabled again and poll at once. Nothing changes when an
  // error is returned (a CA file that cannot be read). Every user of `config` must be known to
  // the lookup. Calls observers of removed accounts before returning.
  Result<ReconfigureSummary, std::string> reconfigure(const config::Config& config);
  // Stops polling and abandons running pulls (their uncommitted downloads are discarded;
  // committed ones are safe); observers hear an error. Idempotent.
  void stop();

  // An IMAP client of `user` showed interest in `mailbox` (SELECT, NOOP, IDLE; empty = any):
  // accounts of that user pulling into that mailbox poll now, unless one is running, the last
  // poll started less than kActivityMinInterval ago, LOGIN-DELAY forbids it, or the account is
  // disabled. Never calls back before returning.
  void clientActivity(std::string_view user, std::string_view mailbox);
  // Re-enables a disabled account (or every account of `user` when `account` is empty) and polls
  // it now. Returns false if no such account exists.
  bool resume(std::string_view user, std::string_view account);
  // resume() one account and follow its pull (the running one, if one runs, else the next,
  // which starts at once unless LOGIN-DELAY forbids it). Returns an id for unwatch(), or
  // nullopt when there is no such account or the scheduler stopped. Never calls back before
  // returning.
  std::optional<std::uint64_t> sync(std::string_view user, std::string_view account,
                                    PullObserver observer);
  // Forgets an observer (its client went away); harmless if it already finished.
  void unwatch(std::uint64_t id);
  // A snapshot of every account's state, in configuration order.
  std::vector<AccountStatus> status() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Watch {
    std::uint64_t id = 0;
    PullObserver observer;
  };
  struct Account {
    std::string user;
    config::PopAccount settings;
    std::optional<config::PopAccount> next_settings;  // from a reconfigure during a pull
    std::shared_ptr<tls::Context> next_tls;
    UserContext* context = nullptr;
    std::shared_ptr<tls::Context> tls;
    std::unique_ptr<Timer> timer;
    std::unique_ptr<Fetcher> fetcher;   // the running pull
    std::unique_ptr<Fetcher> finished;  // destroyed at the next turn, not inside its callback
    unsigned failures = 0;
    unsigned auth_failures = 0;
    bool disabled = false;
    std::string last_error;
    std::optional<Clock::time_point> last_start;
    Clock::time_point not_before{};  // LOGIN-DELAY: no login before this
    std::optional<AccountStatus::WallClock::time_point> last_poll;
    std::optional<PullStats> last_stats;
    std::optional<AccountStatus::WallClock::time_point> next_poll;
    std::vector<Watch> watches;
  };

  Account* find(std::string_view user, std::string_view account);
  void poll(Account& account);
  void schedule(Account& account, std::chrono::milliseconds delay);
  void onPulled(Account& account, Result<PullStats, PullError> result);
  std::chrono::milliseconds nextDelay(const Account& account, std::optional<PullFailure> failure);
  static void notify(std::vector<Watch> watches, const Result<PullStats, PullError>& result);

  uv_loop_t* loop_;
  UserLookup users_;
  std::vector<std::unique_ptr<Account>> accounts_;
  std::uint64_t next_watch_ = 1;
  bool stopped_ = false;
};

}  // namespace popbridge::proxy::pop
