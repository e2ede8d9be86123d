// Account keys for the POP login mechanism (auth, oauth2_token_file, oauth2_token_env) and the
// per-account limits (max_message_size, oversize, max_messages_per_session,
// max_bytes_per_session).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "proxy/config/config.h"

namespace popbridge::proxy::config {
namespace {

// A config whose one account has `lines` (at account indentation, each ending in \n) after its
// host. Line 11 is the first of them.
std::string yamlWith(const std::string& lines) {
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
         "        username: alice@example.net\n" +
         lines;
}

Result<Config, ConfigError> parse(const std::string& lines) {
  return parseConfig(yamlWith(lines), "/etc/popbridge.yaml");
}

constexpr const char* kPassword = "        password: pop-secret\n";

TEST(PopAuthConfigTest, DefaultsAreAutoAndNoLimits) {
  auto config = parse(kPassword);
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.auth, PopAuth::Auto);
  EXPECT_EQ(account.max_message_size, 0u);
  EXPECT_EQ(account.oversize, Oversize::Skip);
  EXPECT_EQ(account.max_messages_per_session, 0u);
  EXPECT_EQ(account.max_bytes_per_session, 0u);
  EXPECT_TRUE(account.oauth2_token.empty());
}

TEST(PopAuthConfigTest, EveryPasswordMechanism) {
  for (const auto& [text, value] : {std::pair{"auto", PopAuth::Auto},
                                    {"user", PopAuth::User},
                                    {"apop", PopAuth::Apop},
                                    {"plain", PopAuth::Plain},
                                    {"login", PopAuth::Login}}) {
    auto config = parse(std::string("        auth: ") + text + "\n" + kPassword);
    ASSERT_TRUE(config) << config.error().toString();
    EXPECT_EQ(config->users[0].accounts[0].auth, value);
    EXPECT_EQ(toString(value), text);
  }
  auto bad = parse(std::string("        auth: cram-md5\n") + kPassword);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().key_path, "users[0].accounts[0].auth");
}

TEST(PopAuthConfigTest, Xoauth2TakesATokenFromTheEnvironment) {
  ::setenv("PB_TEST_OAUTH2_TOKEN", "ya29.token", 1);
  auto config = parse("        auth: xoauth2\n        oauth2_token_env: PB_TEST_OAUTH2_TOKEN\n");
  ::unsetenv("PB_TEST_OAUTH2_TOKEN");
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.auth, PopAuth::Xoauth2);
  EXPECT_EQ(account.oauth2_token, "ya29.token");
  EXPECT_TRUE(account.oauth2_token_file.empty());
  EXPECT_TRUE(account.password.empty());
}

TEST(PopAuthConfigTest, Xoauth2TakesATokenFile) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("pb_pop_auth_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "file-token\n";
  auto config = parseConfig(yamlWith("        auth: xoauth2\n        oauth2_token_file: token\n"),
                            dir / "popbridge.yaml");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.oauth2_token, "file-token");
  EXPECT_EQ(account.oauth2_token_file, (dir / "token").string());
}

TEST(PopAuthConfigTest, Xoauth2WithoutTokenOrWithPasswordIsAnError) {
  auto missing = parse("        auth: xoauth2\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().key_path, "users[0].accounts[0].auth");
  EXPECT_NE(missing.error().message.find("oauth2_token_file or oauth2_token_env"),
            std::string::npos);
  ::setenv("PB_TEST_OAUTH2_TOKEN", "t", 1);
  auto password = parse(std::string("        auth: xoauth2\n") + kPassword +
                        "        oauth2_token_env: PB_TEST_OAUTH2_TOKEN\n");
  ::unsetenv("PB_TEST_OAUTH2_TOKEN");
  ASSERT_FALSE(password);
  EXPECT_EQ(password.error().key_path, "users[0].accounts[0].password");
}

TEST(PopAuthConfigTest, TokenWithoutXoauth2IsAnError) {
  auto config = parse(std::string(kPassword) + "        oauth2_token_env: X\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().key_path, "users[0].accounts[0].oauth2_token_env");
  EXPECT_NE(config.error().message.find("only applies with auth: xoauth2"), std::string::npos)
      << config.error().message;
}

TEST(PopLimitsConfigTest, LimitsParse) {
  auto config = parse(std::string(kPassword) +
                      "        max_message_size: 10M\n"
                      "        oversize: fetch\n"
                      "        max_messages_per_session: 500\n"
                      "        max_bytes_per_session: 1G\n");
  ASSERT_TRUE(config) << config.error().toString();
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.max_message_size, 10u * 1024 * 1024);
  EXPECT_EQ(account.oversize, Oversize::Fetch);
  EXPECT_EQ(toString(Oversize::Fetch), "fetch");
  EXPECT_EQ(account.max_messages_per_session, 500u);
  EXPECT_EQ(account.max_bytes_per_session, 1024u * 1024 * 1024);
}

TEST(PopLimitsConfigTest, BadLimitsAreErrors) {
  const auto error_at = [](const std::string& lines) {
    auto config = parse(std::string(kPassword) + lines);
    return config ? std::string("(parsed)") : config.error().key_path;
  };
  EXPECT_EQ(error_at("        oversize: skip\n"), "users[0].accounts[0].oversize");
  EXPECT_EQ(error_at("        max_message_size: 0\n"), "users[0].accounts[0].max_message_size");
  EXPECT_EQ(error_at("        max_message_size: 10M\n        oversize: maybe\n"),
            "users[0].accounts[0].oversize");
  EXPECT_EQ(error_at("        max_messages_per_session: 0\n"),
            "users[0].accounts[0].max_messages_per_session");
  EXPECT_EQ(error_at("        max_messages_per_session: -3\n"),
            "users[0].accounts[0].max_messages_per_session");
  EXPECT_EQ(error_at("        max_messages_per_session: 4294967296\n"),
            "users[0].accounts[0].max_messages_per_session");
  EXPECT_EQ(error_at("        max_bytes_per_session: lots\n"),
            "users[0].accounts[0].max_bytes_per_session");
}

}  // namespace
}  // namespace popbridge::proxy::config
