#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocols/common/result.h"
#include "proxy/config/config.h"
#include "proxy/core/tcp_listener.h"
#include "proxy/core/timer.h"
#include "proxy/imap/login_cache.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy {
class MailboxHub;
class UserContext;
}  // namespace popbridge::proxy

namespace popbridge::proxy::imap {

// The IMAP listeners and the sessions they accept. Owns every Session; destroys them only at
// the start of a later loop turn (STYLE.md 5.3). Loop thread only.
class ImapServer {
 public:
  using UserLookup = std::function<UserContext*(std::string_view name)>;

  // `config`, `hub` and what `users` returns must outlive the server.
  ImapServer(uv_loop_t* loop, const config::Config& config, MailboxHub& hub, UserLookup users,
             std::shared_ptr<tls::Context> tls_context);
  ~ImapServer();
  ImapServer(const ImapServer&) = delete;
  ImapServer& operator=(const ImapServer&) = delete;

  // Binds every configured listener; an error names the address.
  Result<void, std::string> start();
  // Closes the listeners and every session. Idempotent.
  void stop();

  uv_loop_t* loop() const { return loop_; }
  const config::Config& config() const { return config_; }
  MailboxHub& hub() { return hub_; }
  UserContext* userContext(std::string_view name) { return users_(name); }

  // The live session with this id, or nullptr (closed or never existed).
  Session* find(std::uint64_t id);
  // Queues a closed session for destruction at the start of the next loop turn.
  void retire(std::uint64_t id);
  std::size_t sessionCount() const { return sessions_.size(); }
  // Client activity on a mailbox (SELECT, NOOP, IDLE): the scheduler may poll that mailbox's
  // POP accounts at once (issue: new mail should reach an attentive client without waiting).
  using ActivityHook = std::function<void(std::string_view user, std::string_view mailbox)>;
  void setActivityHook(ActivityHook hook) { activity_ = std::move(hook); }
  void clientActivity(std::string_view user, std::string_view mailbox) {
    if (activity_) activity_(user, mailbox);
  }
  // Problems of the user's POP accounts to tell them at login as [ALERT]s (RFC 3501 7.1:
  // the client must show ALERT text to its user), one line each.
  using AlertSource = std::function<std::vector<std::string>(std::string_view user)>;
  void setAlertSource(AlertSource source) { alerts_ = std::move(source); }
  std::vector<std::string> alertsFor(std::string_view user) const {
    return alerts_ ? alerts_(user) : std::vector<std::string>{};
  }
  // A hash of a random password, checked against when a login names an unknown user, so
  // that answer takes as long as a real check.
  const std::string& decoyHash() const { return decoy_hash_; }
  // Successful password checks, so a repeated LOGIN with the same password skips crypt(3).
  LoginCache& loginCache() { return login_cache_; }

 private:
  void accept(uv_stream_t* listener, const ListenerOptions& options);
  void reap();

  uv_loop_t* loop_;
  const config::Config& config_;
  MailboxHub& hub_;
  UserLookup users_;
  std::shared_ptr<tls::Context> tls_context_;
  std::vector<std::unique_ptr<TcpListener>> listeners_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Session>> sessions_;
  std::vector<std::uint64_t> doomed_;
  Timer reaper_;
  std::uint64_t next_id_ = 1;
  std::string decoy_hash_;
  LoginCache login_cache_;
  ActivityHook activity_;
  AlertSource alerts_;
  bool stopped_ = false;
};

}  // namespace popbridge::proxy::imap
