#include "proxy/imap/login_cache.h"

#include "proxy/tls/digest.h"

namespace popbridge::proxy::imap {
namespace {

// Equal-length digests compared without an early exit.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

LoginCache::LoginCache(std::chrono::seconds ttl) : key_(tls::randomBytes(32)), ttl_(ttl) {}

bool LoginCache::matches(std::string_view user, std::string_view hash, std::string_view password,
                         Clock::time_point now) const {
  const auto found = entries_.find(std::string(user));
  if (found == entries_.end()) return false;
  const Entry& entry = found->second;
  if (now >= entry.expires || entry.hash != hash) return false;
  return constantTimeEquals(tls::hmacSha256(key_, password), entry.digest);
}

void LoginCache::remember(std::string_view user, std::string_view hash, std::string_view password,
                          Clock::time_point now) {
  entries_[std::string(user)] =
      Entry{std::string(hash), tls::hmacSha256(key_, password), now + ttl_};
}

}  // namespace popbridge::proxy::imap
