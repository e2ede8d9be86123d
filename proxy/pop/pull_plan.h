#pragma once

// The decisions of a pull that need no network and no store: which ledger key each listed
// message goes by, which messages to download and which to delete upstream. Pure functions on
// values; any thread.

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/pop3/parsers.h"
#include "proxy/config/config.h"
#include "store/types.h"

namespace popbridge::proxy::pop {

// SHA-256 (FIPS 180-4) of `data`. Used for content keys, where a weak hash would let a crafted
// message collide with another one and have it skipped.
std::array<std::uint8_t, 32> sha256(std::string_view data);

// Incremental SHA-256, for headers that arrive one line at a time. Single-threaded value.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // The digest of everything passed to update(). Call once; the object is spent afterwards.
  std::array<std::uint8_t, 32> finish();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;
};

// One message of the maildrop as this session's UIDL, LIST and (where needed) TOP n 0 show it.
struct ListedMessage {
  std::uint32_t number = 0;
  std::string uidl;           // empty when the server has no UIDL
  std::uint64_t size = 0;     // LIST size; 0 when LIST failed
  std::string header_digest;  // hex SHA-256 of the TOP n 0 header lines; empty if not read
};

// A message with the key its ledger row uses.
struct KeyedMessage {
  std::uint32_t number = 0;
  std::string key;
  std::uint64_t size = 0;

  friend bool operator==(const KeyedMessage&, const KeyedMessage&) = default;
};

// Message numbers whose header digest assignKeys() needs: every message when the server has no
// UIDL, otherwise every occurrence of a UIDL after its first (RFC 1939 7 requires unique-ids to
// be unique; some servers repeat them). Ascending.
std::vector<std::uint32_t> numbersNeedingDigest(std::span<const ListedMessage> listing,
                                                bool have_uidl);

// Gives each listed message its ledger key, in listing order:
// - a UIDL seen once (or its first occurrence, by message number) is its own key;
// - later occurrences of a repeated UIDL are keyed "<uidl>#<digest>/<size>";
// - without UIDL the key is "~<digest>/<size>" (content key: TOP n 0 headers plus LIST size),
//   which does not depend on message numbers and so survives servers that reorder the maildrop.
// Keys that still coincide (identical headers and size: the same message delivered twice) get
// "#2", "#3"... in number order, so every copy is fetched once. The digest used is the first 32
// hex digits (128 bits) of header_digest.
std::vector<KeyedMessage> assignKeys(std::span<const ListedMessage> listing);

// What the account's retention policy asks for.
struct RetentionPolicy {
  config::Retention kind = config::Retention::Keep;
  std::chrono::seconds delete_after{0};  // kind DeleteAfter
  std::uint64_t keep_under = 0;          // kind KeepUnder: bytes

  static RetentionPolicy of(const config::PopAccount& account);
};

// The ledger state a message gets when its download commits: DeletePending when the policy
// deletes it at once (delete, or delete_after 0), Stored otherwise.
store::LedgerState stateOnCommit(const RetentionPolicy& policy);

struct PullPlan {
  std::vector<KeyedMessage> fetch;   // not in the ledger: download, in listing order
  std::vector<KeyedMessage> remove;  // in the ledger and due for DELE, in listing order
};

// Plans a pull. `ledger` is the account's rows; `now` unix seconds.
// - fetch: listed messages whose key has no ledger row.
// - remove: listed messages with a row in state DeletePending or Deleted (a DELE whose QUIT never
//   got its +OK; sent again), plus those the policy deletes: delete: every Stored row;
//   delete_after: rows first seen at least delete_after ago; delete_when_expunged: rows whose
//   message left the store (uid 0); keep_under: while the listed total exceeds keep_under,
//   Stored rows oldest first (first_seen, then message number). keep never deletes.
PullPlan planPull(std::span<const KeyedMessage> listing, std::span<const store::LedgerEntry> ledger,
                  const RetentionPolicy& policy, std::int64_t now);

// The LIST sizes a session asks for once UIDL has given every listed message a key of its own
// (its UIDL: no repeats, so no TOP digests), with the account's ledger at hand.
struct SizeQuery {
  bool all = false;                    // a whole LIST
  std::vector<std::uint32_t> numbers;  // else "LIST n" for each of these, ascending
};

// keep_under weighs the whole maildrop, so it asks for every size. Otherwise only the messages
// with no ledger row (those a session fetches) need theirs (for the size limits, the progress
// totals and the check of what arrives): none when nothing is new, which spares a poll the
// LIST of a maildrop left on the server; one "LIST n" each when there are at most
// `max_single`; else the whole LIST. Pure.
SizeQuery sizesToAsk(std::span<const ListedMessage> listing,
                     std::span<const store::LedgerEntry> ledger, const RetentionPolicy& policy,
                     std::size_t max_single);

// RFC 2449 6.7: true when a server that keeps retrieved mail for `expire_days` days (UINT32_MAX:
// NEVER; 0: it may delete a message as soon as it is retrieved) will delete mail earlier than
// `policy` would: keep, keep_under and delete_when_expunged never ask for a delete by age, and
// delete_after asks for one only after its own delay. delete never contradicts it.
bool expireContradicts(const RetentionPolicy& policy, std::uint32_t expire_days);

// How a session logs in.
enum class LoginMethod { User, Apop, SaslPlain, SaslLogin, SaslXoauth2 };

// Chooses the login for the account's `auth` from what the server showed: its capabilities
// (`capa_answered` false when CAPA was refused, RFC 2449 being optional) and whether the
// greeting carried an APOP timestamp. auto takes SASL PLAIN (one round trip) when CAPA lists
// it, else USER/PASS when CAPA lists USER or there was no CAPA (RFC 1939 servers), else APOP
// when there is a timestamp (the password stays off the wire), else SASL LOGIN, else USER/PASS
// as a last try; never XOAUTH2, which needs a token. An explicit choice is returned or refused,
// never replaced: APOP without a timestamp, or a SASL mechanism an answered CAPA does not list,
// is an error message saying so (tried anyway, it would only count as a wrong password). Pure.
Result<LoginMethod, std::string> chooseLogin(config::PopAuth auth, const pop3::Capabilities& caps,
                                             bool capa_answered, bool apop_timestamp);

// The account's per-session limits; 0 = no limit.
struct SessionLimits {
  std::uint64_t max_message_size = 0;
  config::Oversize oversize = config::Oversize::Skip;
  std::uint32_t max_messages = 0;
  std::uint64_t max_bytes = 0;

  static SessionLimits of(const config::PopAccount& account);
};

struct LimitedFetch {
  std::vector<KeyedMessage> fetch;     // RETR in this session, oldest (lowest number) first
  std::vector<KeyedMessage> oversize;  // over max_message_size: left on the server (skip) or
                                       // fetched anyway (fetch: these are in `fetch` too)
  std::size_t deferred = 0;            // new messages the caps leave to a later session
};

// Applies the limits to the messages a plan fetches. Sizes are LIST sizes; a message whose size
// is unknown (0: LIST failed) is never oversize. With oversize skip a large message is left out
// (it has no ledger row, so it is looked at again each session, and a raised limit fetches it);
// then, oldest first, messages are taken while the count stays within max_messages and the
// bytes within max_bytes. The first message of a session is always taken, however large, so
// one bigger than max_bytes cannot block the account; taking stops at the first that does not
// fit, so mail still arrives oldest first. Pure.
LimitedFetch limitFetch(std::span<const KeyedMessage> fetch, const SessionLimits& limits);

// Lower-case hex of `bytes`.
std::string toHex(std::span<const std::uint8_t> bytes);

}  // namespace popbridge::proxy::pop
