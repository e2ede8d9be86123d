#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <unordered_map>

namespace popbridge::proxy::imap {

// Remembers each user's last successful password check, so that a client logging in again with
// the same password is not charged a crypt(3) computation every time (yescrypt costs 10-100 ms
// of CPU by design; mobile clients reconnect all day). Like Dovecot's auth_cache, with these
// limits:
// - only successes are remembered: a wrong password always costs a full crypt(3), so online
//   guessing is as slow as without the cache;
// - an entry holds HMAC-SHA-256 of the password under a random key made when the cache is
//   created, never the password, and only for as long as the user's configured hash is the one
//   it was checked against (a reload that changes the password empties it in effect);
// - an entry ages out after `ttl`.
// At most one entry per user name that passed a check, i.e. per configured user. Loop thread
// only (not synchronised); borrows its arguments for each call only.
class LoginCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultTtl{3600};

  explicit LoginCache(std::chrono::seconds ttl = kDefaultTtl);

  // True when `user` logged in with `password` within the ttl before `now`, checked against the
  // same configured `hash`. The comparison takes the same time for any password.
  bool matches(std::string_view user, std::string_view hash, std::string_view password,
               Clock::time_point now) const;
  // Records that `password` matched `hash` for `user` at `now`; call only after a successful
  // verifyPassword. Replaces the user's earlier entry.
  void remember(std::string_view user, std::string_view hash, std::string_view password,
                Clock::time_point now);

  std::size_t sizeForTest() const { return entries_.size(); }

 private:
  struct Entry {
    std::string hash;
    std::string digest;
    Clock::time_point expires;
  };
  std::string key_;
  std::chrono::seconds ttl_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace popbridge::proxy::imap
