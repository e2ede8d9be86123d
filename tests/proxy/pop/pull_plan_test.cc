#include "proxy/pop/pull_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace popbridge::proxy::pop {
namespace {

using config::Retention;
using store::LedgerEntry;
using store::LedgerState;

std::string hexOf(std::string_view data) { return toHex(sha256(data)); }

TEST(Sha256Test, KnownVectors) {
  // FIPS 180-4 examples and the empty string.
  EXPECT_EQ(hexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hexOf("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hexOf(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, SplitAtEveryOffsetGivesTheSameDigest) {
  std::string data;
  for (int i = 0; i < 200; ++i) data.push_back(static_cast<char>(i * 7));
  const std::string whole = hexOf(data);
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    Sha256 hash;
    hash.update(std::string_view(data).substr(0, cut));
    hash.update(std::string_view(data).substr(cut));
    EXPECT_EQ(toHex(hash.finish()), whole) << cut;
  }
}

ListedMessage listed(std::uint32_t number, std::string uidl, std::uint64_t size,
                     std::string digest = {}) {
  return ListedMessage{number, std::move(uidl), size, std::move(digest)};
}

const std::string kDigestA = std::string(64, 'a');
const std::string kDigestB = std::string(64, 'b');

TEST(AssignKeysTest, UniqueUidlsAreTheirOwnKeys) {
  const std::vector<ListedMessage> listing = {listed(1, "x", 10), listed(2, "y", 20)};
  EXPECT_TRUE(numbersNeedingDigest(listing, true).empty());
  EXPECT_EQ(assignKeys(listing), (std::vector<KeyedMessage>{{1, "x", 10}, {2, "y", 20}}));
}

TEST(AssignKeysTest, RepeatedUidlKeepsItsFirstOccurrencePlain) {
  // Listed out of number order: the lowest number is the first occurrence.
  const std::vector<ListedMessage> listing = {listed(3, "x", 30, kDigestB), listed(1, "x", 10),
                                              listed(2, "y", 20)};
  EXPECT_EQ(numbersNeedingDigest(listing, true), (std::vector<std::uint32_t>{3}));
  const auto keys = assignKeys(listing);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].key, "x#" + std::string(32, 'b') + "/30");
  EXPECT_EQ(keys[1].key, "x");
  EXPECT_EQ(keys[2].key, "y");
}

TEST(AssignKeysTest, WithoutUidlContentKeysIgnoreNumbering) {
  const std::vector<ListedMessage> first = {listed(1, "", 10, kDigestA),
                                            listed(2, "", 20, kDigestB)};
  const std::vector<ListedMessage> reordered = {listed(1, "", 20, kDigestB),
                                                listed(2, "", 10, kDigestA)};
  EXPECT_EQ(numbersNeedingDigest(first, false), (std::vector<std::uint32_t>{1, 2}));
  const auto a = assignKeys(first);
  const auto b = assignKeys(reordered);
  EXPECT_EQ(a[0].key, "~" + std::string(32, 'a') + "/10");
  EXPECT_EQ(a[0].key, b[1].key);
  EXPECT_EQ(a[1].key, b[0].key);
  EXPECT_NE(a[0].key, a[1].key);
}

TEST(AssignKeysTest, IdenticalCopiesAreNumbered) {
  // Same headers: told apart by size; same headers and size: the same message twice.
  const std::vector<ListedMessage> listing = {
      listed(2, "", 10, kDigestA), listed(1, "", 10, kDigestA), listed(3, "", 11, kDigestA)};
  const auto keys = assignKeys(listing);
  const std::string base = "~" + std::string(32, 'a');
  EXPECT_EQ(keys[1].key, base + "/10");
  EXPECT_EQ(keys[0].key, base + "/10#2");
  EXPECT_EQ(keys[2].key, base + "/11");
}

LedgerEntry entry(std::string key, LedgerState state, std::int64_t first_seen,
                  std::uint32_t uid = 1) {
  return LedgerEntry{std::move(key), state, first_seen, "INBOX", uid};
}

std::vector<std::string> keysOf(const std::vector<KeyedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.key);
  return out;
}

using Keys = std::vector<std::string>;

TEST(PlanPullTest, KeepFetchesOnlyNewAndDeletesOnlyPending) {
  const std::vector<KeyedMessage> listing = {{1, "a", 10}, {2, "b", 10}, {3, "c", 10}};
  const std::vector<LedgerEntry> ledger = {entry("a", LedgerState::Stored, 0),
                                           entry("b", LedgerState::DeletePending, 0)};
  const PullPlan plan = planPull(listing, ledger, RetentionPolicy{}, 1000);
  EXPECT_EQ(keysOf(plan.fetch), (Keys{"c"}));
  // A DELE that never got its +OK to QUIT is sent again whatever the policy says now.
  EXPECT_EQ(keysOf(plan.remove), (Keys{"b"}));
}

TEST(PlanPullTest, DeleteRemovesEveryStoredMessage) {
  const std::vector<KeyedMessage> listing = {{1, "a", 10}, {2, "b", 10}};
  const std::vector<LedgerEntry> ledger = {entry("a", LedgerState::Stored, 0)};
  const PullPlan plan = planPull(listing, ledger, RetentionPolicy{Retention::Delete}, 0);
  EXPECT_EQ(keysOf(plan.fetch), (Keys{"b"}));
  EXPECT_EQ(keysOf(plan.remove), (Keys{"a"}));
  EXPECT_EQ(stateOnCommit(RetentionPolicy{Retention::Delete}), LedgerState::DeletePending);
  EXPECT_EQ(stateOnCommit(RetentionPolicy{Retention::Keep}), LedgerState::Stored);
}

TEST(PlanPullTest, DeleteAfterWaitsForTheAge) {
  RetentionPolicy policy{Retention::DeleteAfter, std::chrono::seconds(100), 0};
  const std::vector<KeyedMessage> listing = {{1, "old", 10}, {2, "young", 10}};
  const std::vector<LedgerEntry> ledger = {entry("old", LedgerState::Stored, 1000),
                                           entry("young", LedgerState::Stored, 1050)};
  EXPECT_EQ(keysOf(planPull(listing, ledger, policy, 1099).remove), Keys{});
  EXPECT_EQ(keysOf(planPull(listing, ledger, policy, 1100).remove), (Keys{"old"}));
  EXPECT_EQ(keysOf(planPull(listing, ledger, policy, 1150).remove), (Keys{"old", "young"}));
  EXPECT_EQ(stateOnCommit(policy), LedgerState::Stored);
  policy.delete_after = std::chrono::seconds(0);
  EXPECT_EQ(stateOnCommit(policy), LedgerState::DeletePending);
}

TEST(PlanPullTest, DeleteWhenExpungedRemovesWhatLeftTheStore) {
  const RetentionPolicy policy{Retention::DeleteWhenExpunged, {}, 0};
  const std::vector<KeyedMessage> listing = {{1, "here", 10}, {2, "gone", 10}};
  const std::vector<LedgerEntry> ledger = {entry("here", LedgerState::Stored, 0, 5),
                                           entry("gone", LedgerState::Stored, 0, 0)};
  EXPECT_EQ(keysOf(planPull(listing, ledger, policy, 0).remove), (Keys{"gone"}));
}

TEST(PlanPullTest, KeepUnderDeletesOldestUntilUnderTarget) {
  RetentionPolicy policy{Retention::KeepUnder, {}, 250};
  // 400 bytes listed; "new" is not stored yet and cannot be deleted.
  const std::vector<KeyedMessage> listing = {
      {1, "b", 100}, {2, "a", 100}, {3, "c", 100}, {4, "new", 100}};
  const std::vector<LedgerEntry> ledger = {entry("a", LedgerState::Stored, 10),
                                           entry("b", LedgerState::Stored, 20),
                                           entry("c", LedgerState::Stored, 20)};
  PullPlan plan = planPull(listing, ledger, policy, 100);
  EXPECT_EQ(keysOf(plan.fetch), (Keys{"new"}));
  // Oldest first_seen ("a"), then the lower message number among equals ("b").
  EXPECT_EQ(keysOf(plan.remove), (Keys{"b", "a"}));
  policy.keep_under = 400;
  EXPECT_EQ(keysOf(planPull(listing, ledger, policy, 100).remove), Keys{});
  // A pending delete counts as gone already.
  const std::vector<LedgerEntry> pending = {entry("a", LedgerState::Stored, 10),
                                            entry("b", LedgerState::DeletePending, 20),
                                            entry("c", LedgerState::Stored, 20)};
  policy.keep_under = 250;
  EXPECT_EQ(keysOf(planPull(listing, pending, policy, 100).remove), (Keys{"b", "a"}));
  policy.keep_under = 300;
  EXPECT_EQ(keysOf(planPull(listing, pending, policy, 100).remove), (Keys{"b"}));
}

using Numbers = std::vector<std::uint32_t>;

TEST(SizesToAskTest, NothingNewAsksNoSizes) {
  const std::vector<ListedMessage> listing = {listed(1, "a", 0), listed(2, "b", 0)};
  const std::vector<LedgerEntry> ledger = {entry("b", LedgerState::Stored, 0),
                                           entry("a", LedgerState::DeletePending, 0),
                                           entry("gone", LedgerState::Stored, 0)};
  for (const Retention kind : {Retention::Keep, Retention::Delete, Retention::DeleteAfter,
                               Retention::DeleteWhenExpunged}) {
    const SizeQuery query = sizesToAsk(listing, ledger, RetentionPolicy{kind}, 64);
    EXPECT_FALSE(query.all);
    EXPECT_EQ(query.numbers, Numbers{});
  }
}

TEST(SizesToAskTest, NewMessagesOneByOneUpToTheLimit) {
  // Listed out of number order: the numbers come back ascending.
  const std::vector<ListedMessage> listing = {listed(3, "c", 0), listed(1, "a", 0),
                                              listed(2, "b", 0), listed(4, "d", 0)};
  const std::vector<LedgerEntry> ledger = {entry("a", LedgerState::Stored, 0)};
  SizeQuery query = sizesToAsk(listing, ledger, RetentionPolicy{}, 3);
  EXPECT_FALSE(query.all);
  EXPECT_EQ(query.numbers, (Numbers{2, 3, 4}));
  // One more than the limit: the whole LIST is cheaper than many round trips.
  query = sizesToAsk(listing, ledger, RetentionPolicy{}, 2);
  EXPECT_TRUE(query.all);
  EXPECT_EQ(query.numbers, Numbers{});
  query = sizesToAsk(listing, {}, RetentionPolicy{}, 0);
  EXPECT_TRUE(query.all);
}

TEST(SizesToAskTest, KeepUnderAlwaysAsksEverySize) {
  const std::vector<ListedMessage> listing = {listed(1, "a", 0)};
  const std::vector<LedgerEntry> ledger = {entry("a", LedgerState::Stored, 0)};
  RetentionPolicy policy{Retention::KeepUnder};
  policy.keep_under = 100;
  const SizeQuery query = sizesToAsk(listing, ledger, policy, 64);
  EXPECT_TRUE(query.all);
  EXPECT_EQ(query.numbers, Numbers{});
}

TEST(ExpireTest, ContradictionsWithTheRetention) {
  constexpr std::uint32_t kNever = 0xFFFFFFFFu;
  const RetentionPolicy keep{Retention::Keep, {}, 0};
  const RetentionPolicy remove{Retention::Delete, {}, 0};
  const RetentionPolicy week{Retention::DeleteAfter, std::chrono::hours(24 * 7), 0};
  const RetentionPolicy expunged{Retention::DeleteWhenExpunged, {}, 0};
  const RetentionPolicy under{Retention::KeepUnder, {}, 100};
  EXPECT_TRUE(expireContradicts(keep, 0));  // EXPIRE 0: deleted as soon as retrieved
  EXPECT_TRUE(expireContradicts(keep, 5));
  EXPECT_FALSE(expireContradicts(keep, kNever));
  EXPECT_FALSE(expireContradicts(remove, 0));
  EXPECT_TRUE(expireContradicts(week, 5));
  EXPECT_FALSE(expireContradicts(week, 7));
  EXPECT_FALSE(expireContradicts(week, 30));
  EXPECT_TRUE(expireContradicts(expunged, 30));
  EXPECT_TRUE(expireContradicts(under, 30));
  EXPECT_FALSE(expireContradicts(under, kNever));
}

SessionLimits limits(std::uint64_t max_size, config::Oversize oversize, std::uint32_t messages,
                     std::uint64_t bytes) {
  return SessionLimits{max_size, oversize, messages, bytes};
}

TEST(LimitFetchTest, NoLimitsTakesEverythingOldestFirst) {
  const std::vector<KeyedMessage> fetch = {{3, "c", 10}, {1, "a", 10}, {2, "b", 10}};
  const LimitedFetch out = limitFetch(fetch, SessionLimits{});
  EXPECT_EQ(keysOf(out.fetch), (Keys{"a", "b", "c"}));
  EXPECT_TRUE(out.oversize.empty());
  EXPECT_EQ(out.deferred, 0u);
}

TEST(LimitFetchTest, OversizeSkipLeavesLargeMessagesOut) {
  const std::vector<KeyedMessage> fetch = {
      {1, "a", 100}, {2, "big", 1001}, {3, "c", 1000}, {4, "unknown", 0}};
  const LimitedFetch out = limitFetch(fetch, limits(1000, config::Oversize::Skip, 0, 0));
  EXPECT_EQ(keysOf(out.fetch), (Keys{"a", "c", "unknown"}));
  EXPECT_EQ(keysOf(out.oversize), (Keys{"big"}));
  EXPECT_EQ(out.deferred, 0u);
  const LimitedFetch fetched = limitFetch(fetch, limits(1000, config::Oversize::Fetch, 0, 0));
  EXPECT_EQ(keysOf(fetched.fetch), (Keys{"a", "big", "c", "unknown"}));
  EXPECT_EQ(keysOf(fetched.oversize), (Keys{"big"}));
}

TEST(LimitFetchTest, MessageCapTakesTheOldest) {
  const std::vector<KeyedMessage> fetch = {
      {5, "e", 1}, {1, "a", 1}, {4, "d", 1}, {2, "b", 1}, {3, "c", 1}};
  const LimitedFetch out = limitFetch(fetch, limits(0, config::Oversize::Skip, 2, 0));
  EXPECT_EQ(keysOf(out.fetch), (Keys{"a", "b"}));
  EXPECT_EQ(out.deferred, 3u);
}

TEST(LimitFetchTest, ByteCapStopsAtTheFirstMessageThatDoesNotFit) {
  const std::vector<KeyedMessage> fetch = {{1, "a", 40}, {2, "b", 50}, {3, "c", 20}, {4, "d", 5}};
  const LimitedFetch out = limitFetch(fetch, limits(0, config::Oversize::Skip, 0, 100));
  // "b" fits (90), "c" does not (110); "d" would, but is left too so mail arrives oldest first.
  EXPECT_EQ(keysOf(out.fetch), (Keys{"a", "b"}));
  EXPECT_EQ(out.deferred, 2u);
  // A message larger than the whole budget still goes, alone, as the first of a session.
  const std::vector<KeyedMessage> huge = {{1, "huge", 500}, {2, "small", 1}};
  const LimitedFetch alone = limitFetch(huge, limits(0, config::Oversize::Skip, 0, 100));
  EXPECT_EQ(keysOf(alone.fetch), (Keys{"huge"}));
  EXPECT_EQ(alone.deferred, 1u);
}

TEST(LimitFetchTest, SkippedOversizeDoesNotCountAgainstTheCaps) {
  const std::vector<KeyedMessage> fetch = {
      {1, "big", 900}, {2, "a", 10}, {3, "b", 10}, {4, "c", 10}};
  const LimitedFetch out = limitFetch(fetch, limits(500, config::Oversize::Skip, 2, 1000));
  EXPECT_EQ(keysOf(out.fetch), (Keys{"a", "b"}));
  EXPECT_EQ(keysOf(out.oversize), (Keys{"big"}));
  EXPECT_EQ(out.deferred, 1u);
}

pop3::Capabilities capsWith(std::vector<std::string> sasl, bool user) {
  pop3::Capabilities caps;
  caps.sasl = std::move(sasl);
  caps.user = user;
  return caps;
}

TEST(ChooseLoginTest, AutoTakesTheBestOffered) {
  using config::PopAuth;
  const auto choose = [](const pop3::Capabilities& caps, bool capa, bool apop) {
    return chooseLogin(PopAuth::Auto, caps, capa, apop).value();
  };
  EXPECT_EQ(choose(capsWith({"LOGIN", "PLAIN"}, true), true, true), LoginMethod::SaslPlain);
  EXPECT_EQ(choose(capsWith({"LOGIN"}, true), true, true), LoginMethod::User);
  // No CAPA: an RFC 1939 server, USER/PASS.
  EXPECT_EQ(choose(pop3::Capabilities{}, false, true), LoginMethod::User);
  EXPECT_EQ(choose(capsWith({"LOGIN"}, false), true, true), LoginMethod::Apop);
  EXPECT_EQ(choose(capsWith({"LOGIN"}, false), true, false), LoginMethod::SaslLogin);
  EXPECT_EQ(choose(capsWith({}, false), true, false), LoginMethod::User);
  // XOAUTH2 needs a token: never chosen by auto.
  EXPECT_EQ(choose(capsWith({"XOAUTH2"}, false), true, false), LoginMethod::User);
}

TEST(ChooseLoginTest, ExplicitChoicesNeverFallBack) {
  using config::PopAuth;
  const pop3::Capabilities plain_only = capsWith({"PLAIN"}, true);
  EXPECT_EQ(chooseLogin(PopAuth::User, capsWith({"PLAIN"}, false), true, true).value(),
            LoginMethod::User);
  EXPECT_EQ(chooseLogin(PopAuth::Apop, plain_only, true, true).value(), LoginMethod::Apop);
  EXPECT_EQ(chooseLogin(PopAuth::Apop, plain_only, true, false).error(),
            "auth apop: the server's greeting has no APOP timestamp");
  EXPECT_EQ(chooseLogin(PopAuth::Plain, plain_only, true, false).value(), LoginMethod::SaslPlain);
  EXPECT_EQ(chooseLogin(PopAuth::Login, plain_only, true, true).error(),
            "auth login: the server does not offer SASL LOGIN (CAPA SASL: PLAIN)");
  EXPECT_EQ(chooseLogin(PopAuth::Xoauth2, capsWith({}, true), true, false).error(),
            "auth xoauth2: the server does not offer SASL XOAUTH2 (CAPA SASL: none)");
  // Without CAPA nothing is known: the chosen mechanism is tried.
  EXPECT_EQ(chooseLogin(PopAuth::Xoauth2, pop3::Capabilities{}, false, false).value(),
            LoginMethod::SaslXoauth2);
  EXPECT_EQ(chooseLogin(PopAuth::Login, pop3::Capabilities{}, false, false).value(),
            LoginMethod::SaslLogin);
}

}  // namespace
}  // namespace popbridge::proxy::pop
