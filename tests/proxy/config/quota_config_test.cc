// The top-level `quota` default and each user's own `quota` (storage, messages).

#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"

namespace popbridge::proxy::config {
namespace {

// `top` goes before users: (whole lines); bob carries `bob_extra` (lines at user indentation).
// With an empty `top`, line 10 is bob's first extra line.
std::string yamlWith(const std::string& top, const std::string& bob_extra) {
  const std::string hash = "    password_hash: \"$6$saltsalt$" + std::string(86, 'a') + "\"\n";
  return "data_dir: /var/lib/popbridge\n"                      // 1
         "imap:\n"                                             // 2
         "  listen:\n"                                         // 3
         "    - { address: \"127.0.0.1:1143\", tls: none }\n"  // 4
         + top +
         "users:\n"           // 5
         "  - name: alice\n"  // 6
         + hash +             // 7
         "  - name: bob\n"    // 8
         + hash + bob_extra;  // 9, then 10...
}

Result<Config, ConfigError> parse(const std::string& top, const std::string& bob_extra = "") {
  return parseConfig(yamlWith(top, bob_extra), "/etc/popbridge.yaml");
}

TEST(QuotaConfigTest, NoQuotaMeansNoLimits) {
  auto config = parse("");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->default_quota, Quota{});
  EXPECT_EQ(config->users[0].quota, Quota{});
  EXPECT_EQ(config->users[1].quota, Quota{});
}

TEST(QuotaConfigTest, DefaultAppliesToEveryUserAndAUserOverridesKeyByKey) {
  auto config =
      parse("quota: { storage: 2GiB, messages: 1000 }\n", "    quota:\n      storage: 512K\n");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->default_quota, (Quota{2ULL << 30, 1000}));
  EXPECT_EQ(config->users[0].quota, (Quota{2ULL << 30, 1000}));
  EXPECT_EQ(config->users[1].quota, (Quota{512 * 1024, 1000}));
}

TEST(QuotaConfigTest, UnlimitedLiftsADefault) {
  auto config =
      parse("quota: { storage: 10M, messages: 5 }\n", "    quota: { messages: unlimited }\n");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->users[1].quota, (Quota{10 * 1024 * 1024, std::nullopt}));
  EXPECT_EQ(config->users[0].quota, (Quota{10 * 1024 * 1024, 5}));
}

TEST(QuotaConfigTest, BadStorageNamesFileLineAndKey) {
  const auto config = parse("", "    quota:\n      storage: lots\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().line, 11);
  EXPECT_EQ(config.error().key_path, "users[1].quota.storage");
  EXPECT_NE(config.error().toString().find("/etc/popbridge.yaml:11:"), std::string::npos)
      << config.error().toString();
}

TEST(QuotaConfigTest, ZeroAndUnknownKeysAreRefused) {
  auto zero = parse("quota: { messages: 0 }\n");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().key_path, "quota.messages");
  EXPECT_EQ(zero.error().line, 5);
  auto unknown = parse("", "    quota: { bytes: 1M }\n");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().key_path, "users[1].quota.bytes");
  EXPECT_NE(unknown.error().message.find("storage"), std::string::npos) << unknown.error().message;
}

}  // namespace
}  // namespace popbridge::proxy::config
