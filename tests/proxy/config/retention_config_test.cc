// Account keys for the retention policies delete_after, delete_when_expunged and keep_under, the
// per-account reply timeout, and the size syntax keep_under uses.

#include <gtest/gtest.h>

#include <string>

#include "proxy/config/config.h"
#include "proxy/config/size.h"

namespace popbridge::proxy::config {
namespace {

// A config whose one account carries `extra` (lines at account indentation, each ending in \n)
// and the password inline, so no files are needed. Line 11 is the first extra line.
std::string yamlWith(const std::string& extra) {
  return "data_dir: /var/lib/popbridge\n"                      // 1
         "imap:\n"                                             // 2
         "  listen:\n"                                         // 3
         "    - { address: \"127.0.0.1:1143\", tls: none }\n"  // 4
         "users:\n"                                            // 5
         "  - name: alice\n"                                   // 6
         "    password_hash: \"$6$saltsalt$" +
         std::string(86, 'a') +
         "\"\n"                             // 7
         "    accounts:\n"                  // 8
         "      - name: provider\n"         // 9
         "        host: pop.example.net\n"  // 10
         + extra +
         "        username: alice@example.net\n"
         "        password: pop-secret\n";
}

Result<Config, ConfigError> parse(const std::string& extra) {
  return parseConfig(yamlWith(extra), "/etc/popbridge.yaml");
}

TEST(RetentionConfigTest, DefaultsAreKeepAndSixtySeconds) {
  auto config = parse("");
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.retention, Retention::Keep);
  EXPECT_EQ(account.timeout, std::chrono::seconds(60));
  EXPECT_EQ(account.delete_after, std::chrono::milliseconds(0));
  EXPECT_EQ(account.keep_under, 0u);
}

TEST(RetentionConfigTest, DeleteAfterTakesADuration) {
  auto config = parse("        retention: delete_after\n        delete_after: 7d\n");
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.retention, Retention::DeleteAfter);
  EXPECT_EQ(account.delete_after, std::chrono::hours(24 * 7));
  EXPECT_EQ(toString(account.retention), "delete_after");
}

TEST(RetentionConfigTest, KeepUnderTakesASize) {
  auto config = parse("        retention: keep_under\n        keep_under: 50M\n");
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.retention, Retention::KeepUnder);
  EXPECT_EQ(account.keep_under, 50u * 1024 * 1024);
  EXPECT_EQ(toString(account.retention), "keep_under");
}

TEST(RetentionConfigTest, DeleteWhenExpungedNeedsNoParameter) {
  auto config = parse("        retention: delete_when_expunged\n");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].retention, Retention::DeleteWhenExpunged);
  EXPECT_EQ(toString(Retention::DeleteWhenExpunged), "delete_when_expunged");
}

TEST(RetentionConfigTest, ParameterWithoutItsPolicyIsAnError) {
  auto config = parse("        retention: keep\n        delete_after: 7d\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].delete_after");
  EXPECT_EQ(config.error().line, 12);
  EXPECT_NE(config.error().message.find("only applies with retention: delete_after"),
            std::string::npos)
      << config.error().message;

  config = parse("        keep_under: 1G\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].keep_under");
}

TEST(RetentionConfigTest, PolicyWithoutItsParameterIsAnError) {
  auto config = parse("        retention: delete_after\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].retention");
  EXPECT_EQ(config.error().line, 11);
  EXPECT_NE(config.error().message.find("needs a delete_after key"), std::string::npos);

  config = parse("        retention: keep_under\n");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("needs a keep_under key"), std::string::npos);
}

TEST(RetentionConfigTest, BadValuesNameTheKey) {
  auto config = parse("        retention: keep_under\n        keep_under: 50X\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].keep_under");
  EXPECT_NE(config.error().message.find("unknown size unit"), std::string::npos);

  config = parse("        retention: delete_after\n        delete_after: 7\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].delete_after");

  config = parse("        retention: forever\n");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("delete_when_expunged"), std::string::npos)
      << config.error().message;
}

TEST(RetentionConfigTest, TimeoutHasAFloor) {
  auto config = parse("        timeout: 2s\n");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].timeout, std::chrono::seconds(2));

  config = parse("        timeout: 100ms\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].timeout");
  EXPECT_NE(config.error().message.find("at least 500ms"), std::string::npos)
      << config.error().message;
}

TEST(ParseSizeTest, UnitsAreBinaryAndCaseInsensitive) {
  EXPECT_EQ(parseSize("0").value(), 0u);
  EXPECT_EQ(parseSize("512").value(), 512u);
  EXPECT_EQ(parseSize("512B").value(), 512u);
  EXPECT_EQ(parseSize("100k").value(), 100u * 1024);
  EXPECT_EQ(parseSize("100KB").value(), 100u * 1024);
  EXPECT_EQ(parseSize("50M").value(), 50u * 1024 * 1024);
  EXPECT_EQ(parseSize("50MiB").value(), 50u * 1024 * 1024);
  EXPECT_EQ(parseSize("2g").value(), 2ull << 30);
}

TEST(ParseSizeTest, RefusesWhatIsNotASize) {
  for (const char* bad : {"", "M", "-1", "1.5G", "10 M", "10T", "10BB", "10KBB", "10iB",
                          "99999999999999999999", "17179869184G"}) {
    EXPECT_FALSE(parseSize(bad)) << bad;
  }
}

}  // namespace
}  // namespace popbridge::proxy::config
