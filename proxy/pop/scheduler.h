#pragma once

#include <uv.h>

#include <chrono>
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
  std::string user;
  std::string account;
  bool running = false;    // a pull is in progress
  bool disabled = false;   // stopped after repeated authentication failures
  unsigned failures = 0;   // consecutive failed pulls
  std::string last_error;  // empty after a successful pull
};

// Polls every configured POP account: one session per maildrop at a time, every
// poll_interval (with jitter), backing off exponentially while an account keeps failing, never
// logging in sooner than the server's LOGIN-DELAY allows (RFC 2449 6.5), and giving up on an
// account after kMaxAuthFailures consecutive authentication failures until resume().
// Loop thread only.
class Scheduler {
 public:
  using UserLookup = std::function<UserContext*(std::string_view name)>;

  // Consecutive [AUTH]-type login failures after which an account stops polling.
  static constexpr unsigned kMaxAuthFailures = 3;
  // Client activity polls at once only if the last poll started at least this long ago.
  static constexpr std::chrono::milliseconds kActivityMinInterval{std::chrono::seconds(10)};

  // `config` must outlive the scheduler.
  Scheduler(uv_loop_t* loop, const config::Config& config, UserLookup users);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Prepares TLS contexts and schedules each account's first poll at once. An error names the
  // account (a CA file that cannot be read, say).
  Result<void, std::string> start();
  // Stops polling and abandons running pulls (their uncommitted downloads are discarded;
  // committed ones are safe). Idempotent.
  void stop();

  // An IMAP client of `user` showed interest in `mailbox` (SELECT, NOOP, IDLE; empty = any):
  // accounts of that user pulling into that mailbox poll now, unless one is running, the last
  // poll started less than kActivityMinInterval ago, LOGIN-DELAY forbids it, or the account is
  // disabled. Never calls back before returning.
  void clientActivity(std::string_view user, std::string_view mailbox);
  // Re-enables a disabled account (or every account of `user` when `account` is empty) and polls
  // it now. Returns false if no such account exists.
  bool resume(std::string_view user, std::string_view account);
  // A snapshot of every account's state, in configuration order.
  std::vector<AccountStatus> status() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Account {
    const config::User* user = nullptr;
    const config::PopAccount* account = nullptr;
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
  };

  void poll(Account& account);
  void schedule(Account& account, std::chrono::milliseconds delay);
  void onPulled(Account& account, Result<PullStats, PullError> result);
  std::chrono::milliseconds nextDelay(const Account& account, std::optional<PullFailure> failure);

  uv_loop_t* loop_;
  const config::Config& config_;
  UserLookup users_;
  std::vector<std::unique_ptr<Account>> accounts_;
  bool stopped_ = false;
};

}  // namespace popbridge::proxy::pop
