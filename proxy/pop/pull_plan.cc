#include "proxy/pop/pull_plan.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace popbridge::proxy::pop {
namespace {

constexpr std::array<std::uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// Characters of a key's digest part: 128 bits are plenty to tell a maildrop's messages apart.
constexpr std::size_t kDigestChars = 32;

}  // namespace

Sha256::Sha256()
    : state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::block(const std::uint8_t* p) {
  std::array<std::uint32_t, 64> w{};
  for (std::size_t i = 0; i < 16; ++i) {
    w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) |
           (std::uint32_t{p[4 * i + 2]} << 8) | std::uint32_t{p[4 * i + 3]};
  }
  for (std::size_t i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const std::uint32_t ch = (e & f) ^ (~e & g);
    const std::uint32_t t1 = h + s1 + ch + kRoundConstants[i] + w[i];
    const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t t2 = s0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
  state_[4] += e;
  state_[5] += f;
  state_[6] += g;
  state_[7] += h;
}

void Sha256::update(std::string_view data) {
  length_ += data.size();
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t n = data.size();
  if (buffered_ > 0) {
    const std::size_t take = std::min(n, buffer_.size() - buffered_);
    std::memcpy(buffer_.data() + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < buffer_.size()) return;
    block(buffer_.data());
    buffered_ = 0;
  }
  while (n >= 64) {
    block(p);
    p += 64;
    n -= 64;
  }
  if (n > 0) std::memcpy(buffer_.data(), p, n);
  buffered_ = n;
}

std::array<std::uint8_t, 32> Sha256::finish() {
  const std::uint64_t bits = length_ * 8;
  const std::uint8_t pad = 0x80;
  update(std::string_view(reinterpret_cast<const char*>(&pad), 1));
  const std::array<char, 64> zeros{};
  const std::size_t fill = (buffered_ <= 56) ? 56 - buffered_ : 120 - buffered_;
  update(std::string_view(zeros.data(), fill));
  std::array<char, 8> length{};
  for (std::size_t i = 0; i < 8; ++i) length[i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xFF);
  update(std::string_view(length.data(), length.size()));
  std::array<std::uint8_t, 32> out{};
  for (std::size_t i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<std::uint8_t>(state_[i] >> 24);
    out[4 * i + 1] = static_cast<std::uint8_t>(state_[i] >> 16);
    out[4 * i + 2] = static_cast<std::uint8_t>(state_[i] >> 8);
    out[4 * i + 3] = static_cast<std::uint8_t>(state_[i]);
  }
  return out;
}

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

std::vector<std::uint32_t> numbersNeedingDigest(std::span<const ListedMessage> listing,
                                                bool have_uidl) {
  std::vector<const ListedMessage*> ordered;
  ordered.reserve(listing.size());
  for (const ListedMessage& message : listing) ordered.push_back(&message);
  std::sort(ordered.begin(), ordered.end(),
            [](const ListedMessage* a, const ListedMessage* b) { return a->number < b->number; });
  std::vector<std::uint32_t> out;
  std::unordered_set<std::string_view> seen;
  for (const ListedMessage* message : ordered) {
    if (!have_uidl || !seen.insert(message->uidl).second) out.push_back(message->number);
  }
  return out;
}

std::vector<KeyedMessage> assignKeys(std::span<const ListedMessage> listing) {
  // First occurrence by message number, whatever order the listing came in.
  std::unordered_map<std::string_view, std::uint32_t> first;
  for (const ListedMessage& message : listing) {
    if (message.uidl.empty()) continue;
    auto [it, inserted] = first.emplace(message.uidl, message.number);
    if (!inserted && message.number < it->second) it->second = message.number;
  }
  std::vector<KeyedMessage> out;
  out.reserve(listing.size());
  for (const ListedMessage& message : listing) {
    const std::string digest = message.header_digest.substr(0, kDigestChars);
    const std::string suffix = digest + "/" + std::to_string(message.size);
    std::string key;
    if (message.uidl.empty()) {
      key = "~" + suffix;
    } else if (first.at(message.uidl) == message.number) {
      key = message.uidl;
    } else {
      key = message.uidl + "#" + suffix;
    }
    out.push_back(KeyedMessage{message.number, std::move(key), message.size});
  }
  // Keys that still coincide: number the later copies, in message-number order.
  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return out[a].number < out[b].number; });
  std::unordered_map<std::string, unsigned> copies;
  for (const std::size_t i : order) {
    const unsigned n = ++copies[out[i].key];
    if (n > 1) out[i].key += "#" + std::to_string(n);
  }
  return out;
}

RetentionPolicy RetentionPolicy::of(const config::PopAccount& account) {
  RetentionPolicy policy;
  policy.kind = account.retention;
  policy.delete_after = std::chrono::duration_cast<std::chrono::seconds>(account.delete_after);
  policy.keep_under = account.keep_under;
  return policy;
}

store::LedgerState stateOnCommit(const RetentionPolicy& policy) {
  const bool at_once =
      policy.kind == config::Retention::Delete ||
      (policy.kind == config::Retention::DeleteAfter && policy.delete_after.count() <= 0);
  return at_once ? store::LedgerState::DeletePending : store::LedgerState::Stored;
}

PullPlan planPull(std::span<const KeyedMessage> listing, std::span<const store::LedgerEntry> ledger,
                  const RetentionPolicy& policy, std::int64_t now) {
  std::unordered_map<std::string_view, const store::LedgerEntry*> known;
  for (const store::LedgerEntry& entry : ledger) known.emplace(entry.uidl, &entry);
  PullPlan plan;
  std::vector<bool> removed(listing.size(), false);
  std::uint64_t total = 0;
  for (const KeyedMessage& message : listing) total += message.size;
  // Stored rows keep_under may delete, oldest first.
  std::vector<std::pair<const store::LedgerEntry*, std::size_t>> candidates;
  for (std::size_t i = 0; i < listing.size(); ++i) {
    const KeyedMessage& message = listing[i];
    const auto it = known.find(message.key);
    if (it == known.end()) {
      plan.fetch.push_back(message);
      continue;
    }
    const store::LedgerEntry& entry = *it->second;
    bool due = entry.state != store::LedgerState::Stored;
    switch (policy.kind) {
      case config::Retention::Keep:
        break;
      case config::Retention::Delete:
        due = true;
        break;
      case config::Retention::DeleteAfter:
        due = due || now - entry.first_seen >= policy.delete_after.count();
        break;
      case config::Retention::DeleteWhenExpunged:
        due = due || entry.uid == 0;
        break;
      case config::Retention::KeepUnder:
        if (!due) candidates.emplace_back(&entry, i);
        break;
    }
    if (due) {
      removed[i] = true;
      total -= std::min(total, message.size);
    }
  }
  if (policy.kind == config::Retention::KeepUnder && total > policy.keep_under) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
      if (a.first->first_seen != b.first->first_seen)
        return a.first->first_seen < b.first->first_seen;
      return listing[a.second].number < listing[b.second].number;
    });
    for (const auto& [entry, i] : candidates) {
      if (total <= policy.keep_under) break;
      removed[i] = true;
      total -= std::min(total, listing[i].size);
    }
  }
  for (std::size_t i = 0; i < listing.size(); ++i) {
    if (removed[i]) plan.remove.push_back(listing[i]);
  }
  return plan;
}

SizeQuery sizesToAsk(std::span<const ListedMessage> listing,
                     std::span<const store::LedgerEntry> ledger, const RetentionPolicy& policy,
                     std::size_t max_single) {
  SizeQuery query;
  if (policy.kind == config::Retention::KeepUnder) {
    query.all = true;
    return query;
  }
  std::unordered_set<std::string_view> known;
  known.reserve(ledger.size());
  for (const store::LedgerEntry& entry : ledger) known.insert(entry.uidl);
  for (const ListedMessage& message : listing) {
    if (known.count(message.uidl) != 0) continue;
    if (query.numbers.size() == max_single) {
      query.numbers.clear();
      query.all = true;
      return query;
    }
    query.numbers.push_back(message.number);
  }
  std::sort(query.numbers.begin(), query.numbers.end());
  return query;
}

Result<LoginMethod, std::string> chooseLogin(config::PopAuth auth, const pop3::Capabilities& caps,
                                             bool capa_answered, bool apop_timestamp) {
  const auto offers = [&](std::string_view mechanism) {
    return std::find(caps.sasl.begin(), caps.sasl.end(), mechanism) != caps.sasl.end();
  };
  const auto sasl = [&](std::string_view name,
                        LoginMethod method) -> Result<LoginMethod, std::string> {
    if (capa_answered && !offers(name)) {
      std::string offered;
      for (const std::string& m : caps.sasl) offered += (offered.empty() ? "" : " ") + m;
      return fail("auth " + std::string(config::toString(auth)) +
                  ": the server does not offer SASL " + std::string(name) +
                  " (CAPA SASL: " + (offered.empty() ? "none" : offered) + ")");
    }
    return method;
  };
  switch (auth) {
    case config::PopAuth::Auto:
      if (offers("PLAIN")) return LoginMethod::SaslPlain;
      if (caps.user || !capa_answered) return LoginMethod::User;
      if (apop_timestamp) return LoginMethod::Apop;
      if (offers("LOGIN")) return LoginMethod::SaslLogin;
      return LoginMethod::User;
    case config::PopAuth::User:
      return LoginMethod::User;
    case config::PopAuth::Apop:
      if (!apop_timestamp) {
        return fail(std::string("auth apop: the server's greeting has no APOP timestamp"));
      }
      return LoginMethod::Apop;
    case config::PopAuth::Plain:
      return sasl("PLAIN", LoginMethod::SaslPlain);
    case config::PopAuth::Login:
      return sasl("LOGIN", LoginMethod::SaslLogin);
    case config::PopAuth::Xoauth2:
      return sasl("XOAUTH2", LoginMethod::SaslXoauth2);
  }
  return LoginMethod::User;
}

bool expireContradicts(const RetentionPolicy& policy, std::uint32_t expire_days) {
  if (expire_days == std::numeric_limits<std::uint32_t>::max()) return false;  // NEVER
  switch (policy.kind) {
    case config::Retention::Delete:
      return false;
    case config::Retention::DeleteAfter:
      return policy.delete_after > std::chrono::seconds(std::chrono::hours(24)) * expire_days;
    case config::Retention::Keep:
    case config::Retention::KeepUnder:
    case config::Retention::DeleteWhenExpunged:
      return true;
  }
  return true;
}

SessionLimits SessionLimits::of(const config::PopAccount& account) {
  SessionLimits limits;
  limits.max_message_size = account.max_message_size;
  limits.oversize = account.oversize;
  limits.max_messages = account.max_messages_per_session;
  limits.max_bytes = account.max_bytes_per_session;
  return limits;
}

LimitedFetch limitFetch(std::span<const KeyedMessage> fetch, const SessionLimits& limits) {
  std::vector<KeyedMessage> ordered(fetch.begin(), fetch.end());
  std::stable_sort(
      ordered.begin(), ordered.end(),
      [](const KeyedMessage& a, const KeyedMessage& b) { return a.number < b.number; });
  LimitedFetch out;
  std::uint64_t bytes = 0;
  bool full = false;
  for (const KeyedMessage& message : ordered) {
    if (limits.max_message_size != 0 && message.size > limits.max_message_size) {
      out.oversize.push_back(message);
      if (limits.oversize == config::Oversize::Skip) continue;
    }
    const bool count_full = limits.max_messages != 0 && out.fetch.size() >= limits.max_messages;
    const bool bytes_full =
        limits.max_bytes != 0 && !out.fetch.empty() && bytes + message.size > limits.max_bytes;
    full = full || count_full || bytes_full;
    if (full) {
      ++out.deferred;
      continue;
    }
    bytes += message.size;
    out.fetch.push_back(message);
  }
  return out;
}

}  // namespace popbridge::proxy::pop
