#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
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

// Polls every configured POP account: one session per maildrop at a time, every
// poll_interval (with jitter), backing off exponentially while an account keeps failing.
// Loop thread only.
class Scheduler {
 public:
  using UserLookup = std::function<UserContext*(std::string_view name)>;

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

 private:
  struct Account {
    const config::User* user = nullptr;
    const config::PopAccount* account = nullptr;
    UserContext* context = nullptr;
    std::shared_ptr<tls::Context> tls;
    std::unique_ptr<Timer> timer;
    std::unique_ptr<Fetcher> fetcher;   // the running pull
    std::unique_ptr<Fetcher> finished;  // destroyed at the next turn, not inside its callback
    unsigned failures = 0;
  };

  void poll(Account& account);
  void onPulled(Account& account, Result<PullStats, std::string> result);
  std::chrono::milliseconds nextDelay(const Account& account);

  uv_loop_t* loop_;
  const config::Config& config_;
  UserLookup users_;
  std::vector<std::unique_ptr<Account>> accounts_;
  bool stopped_ = false;
};

}  // namespace popbridge::proxy::pop
