#include "proxy/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp, setenv, unsetenv

#include <fstream>
#include <sstream>
#include <string>

#include "proxy/auth/password.h"

namespace popbridge::proxy::config {
namespace {

namespace fs = std::filesystem;

// The repository root, found from this file's location (tests/proxy/config/config_test.cc).
// A compiler cache with a base directory makes __FILE__ relative to the build directory, which
// is not the test's working directory: then the root is found upward from there.
fs::path repoRoot() {
  const fs::path from_file =
      fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
  if (fs::exists(from_file / "config.example.yaml")) return from_file;
  for (fs::path dir = fs::current_path(); dir.has_relative_path(); dir = dir.parent_path()) {
    if (fs::exists(dir / "config.example.yaml")) return dir;
  }
  return from_file;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// One yescrypt hash shared by all tests: hashing is deliberately slow.
const std::string& validHash() {
  static const std::string hash = auth::hashPassword("local-secret").value();
  return hash;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "pb_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    secret_ = dir_ / "pop-secret";
    writeFile(secret_, "pop-password\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A valid config with one plain listener, one user and one account. Lines (1-based):
  //  1 data_dir         5 users:             9 - name: provider   13 (extra line)
  //  2 imap:            6   - name: alice   10   host             14 password_file
  //  3   listen:        7     password_hash 11   tls
  //  4     - {address}  8     accounts:     12   username
  std::string baseYaml(const std::string& account_tls = "implicit",
                       const std::string& extra_account_line = "retention: keep") const {
    return "data_dir: /var/lib/popbridge\n"                      // 1
           "imap:\n"                                             // 2
           "  listen:\n"                                         // 3
           "    - { address: \"127.0.0.1:1143\", tls: none }\n"  // 4
           "users:\n"                                            // 5
           "  - name: alice\n"                                   // 6
           "    password_hash: \"" +
           validHash() +
           "\"\n"                             // 7
           "    accounts:\n"                  // 8
           "      - name: provider\n"         // 9
           "        host: pop.example.net\n"  // 10
           "        tls: " +
           account_tls +
           "\n"                                     // 11
           "        username: alice@example.net\n"  // 12
           "        " +
           extra_account_line +
           "\n"  // 13
           "        password_file: " +
           secret_.string() + "\n";  // 14
  }

  ConfigError expectError(const std::string& yaml) const {
    auto result = parseConfig(yaml, "/etc/popbridge.yaml");
    EXPECT_FALSE(result.has_value()) << "parsed unexpectedly";
    return result ? ConfigError{} : result.error();
  }

  fs::path dir_;
  fs::path secret_;
};

TEST_F(ConfigTest, ExampleFileParses) {
  std::string text = readFile(repoRoot() / "config.example.yaml");
  ASSERT_FALSE(text.empty()) << "config.example.yaml not found at " << repoRoot();
  writeFile(dir_ / "cert.pem", "cert");
  writeFile(dir_ / "key.pem", "key");
  writeFile(dir_ / "ca.pem", "ca");
  replaceAll(text, "/run/secrets/alice-pop", secret_.string());
  replaceAll(text, "/etc/popbridge/tls/cert.pem", (dir_ / "cert.pem").string());
  replaceAll(text, "/etc/popbridge/tls/key.pem", (dir_ / "key.pem").string());
  replaceAll(text, "/etc/ssl/private-ca.pem", (dir_ / "ca.pem").string());
  const fs::path copy = dir_ / "config.yaml";
  writeFile(copy, text);

  auto config = loadConfig(copy);
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->source, copy);
  EXPECT_EQ(config->data_dir, fs::path("/var/lib/popbridge"));
  EXPECT_EQ(config->log_level, LogLevel::Info);
  ASSERT_EQ(config->listeners.size(), 2U);
  EXPECT_EQ(config->listeners[0].address, "0.0.0.0:143");
  EXPECT_EQ(config->listeners[0].host, "0.0.0.0");
  EXPECT_EQ(config->listeners[0].port, 143);
  EXPECT_EQ(config->listeners[0].tls, TlsMode::Starttls);
  EXPECT_EQ(config->listeners[1].port, 993);
  EXPECT_EQ(config->listeners[1].tls, TlsMode::Implicit);
  EXPECT_EQ(config->tls_cert, (dir_ / "cert.pem").string());
  EXPECT_EQ(config->tls_key, (dir_ / "key.pem").string());
  EXPECT_EQ(config->plaintext_auth, PlaintextAuth::Loopback);
  ASSERT_EQ(config->users.size(), 1U);
  const User& alice = config->users[0];
  EXPECT_EQ(alice.name, "alice");
  EXPECT_TRUE(auth::isSupportedHash(alice.password_hash));
  ASSERT_EQ(alice.accounts.size(), 1U);
  const PopAccount& account = alice.accounts[0];
  EXPECT_EQ(account.name, "provider");
  EXPECT_EQ(account.host, "pop.example.net");
  EXPECT_EQ(account.port, 995);
  EXPECT_EQ(account.tls, TlsMode::Implicit);
  EXPECT_EQ(account.verify, VerifyCertificates::Yes);
  EXPECT_EQ(account.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(account.username, "alice@example.net");
  EXPECT_EQ(account.password, "pop-password");
  EXPECT_EQ(account.poll_interval, std::chrono::minutes(5));
  EXPECT_EQ(account.retention, Retention::Keep);
  EXPECT_EQ(account.folder, "INBOX");
  EXPECT_EQ(config->findUser("alice"), &alice);
  EXPECT_EQ(config->findUser("bob"), nullptr);
}

TEST(ConfigExampleTest, DocumentsEveryKey) {
  const std::string text = readFile(repoRoot() / "config.example.yaml");
  for (const char* key : {"data_dir:",
                          "log_level:",
                          "control_socket:",
                          "imap:",
                          "listen:",
                          "address:",
                          "tls:",
                          "cert:",
                          "key:",
                          "plaintext_auth:",
                          "append_limit:",
                          "users:",
                          "name:",
                          "password_hash:",
                          "accounts:",
                          "host:",
                          "port:",
                          "verify_certificates:",
                          "ca_file:",
                          "username:",
                          "password_file:",
                          "password_env:",
                          "password:",
                          "poll_interval:",
                          "retention:",
                          "folder:",
                          "auth:",
                          "oauth2_token_file:",
                          "oauth2_token_env:",
                          "max_message_size:",
                          "oversize:",
                          "max_messages_per_session:",
                          "max_bytes_per_session:",
                          "quota:",
                          "storage:",
                          "messages:"}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
  for (const char* value : {"debug", "info", "warn", "error", "starttls", "implicit", "none",
                            "never", "loopback", "always", "keep", "delete", "hash-password"}) {
    EXPECT_NE(text.find(value), std::string::npos) << value;
  }
}

TEST_F(ConfigTest, ExampleFileWithoutSecretNamesTheMissingFile) {
  // Unchanged, the example points at /run/secrets/alice-pop and certificate files that do not
  // exist here; the error must say which file and which key.
  std::string text = readFile(repoRoot() / "config.example.yaml");
  writeFile(dir_ / "cert.pem", "cert");
  writeFile(dir_ / "key.pem", "key");
  writeFile(dir_ / "ca.pem", "ca");
  replaceAll(text, "/etc/popbridge/tls/cert.pem", (dir_ / "cert.pem").string());
  replaceAll(text, "/etc/popbridge/tls/key.pem", (dir_ / "key.pem").string());
  replaceAll(text, "/etc/ssl/private-ca.pem", (dir_ / "ca.pem").string());
  replaceAll(text, "/run/secrets/alice-pop", (dir_ / "absent").string());
  const ConfigError error = expectError(text);
  EXPECT_EQ(error.key_path, "users[0].accounts[0].password_file");
  EXPECT_EQ(error.message, "cannot read password file \"" + (dir_ / "absent").string() +
                               "\": No such file or directory");
}

TEST_F(ConfigTest, Defaults) {
  const std::string yaml =
      "data_dir: data\n"
      "imap:\n"
      "  listen:\n"
      "    - { address: \"127.0.0.1:0\", tls: none }\n"
      "users:\n"
      "  - name: bob\n"
      "    password_hash: \"" +
      validHash() +
      "\"\n"
      "    accounts:\n"
      "      - { name: a, host: h1, username: u, password: p }\n"
      "      - { name: b, host: h2, username: u, password: p, tls: starttls }\n"
      "      - { name: c, host: h3, username: u, password: p, tls: none, folder: inbox }\n"
      "      - { name: d, host: h4, username: u, password: p, port: 2110, folder: Archive }\n";
  auto config = parseConfig(yaml, dir_ / "popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->log_level, LogLevel::Info);
  EXPECT_EQ(config->plaintext_auth, PlaintextAuth::Loopback);
  EXPECT_EQ(config->auth_failure_delay, std::chrono::seconds(2));
  EXPECT_EQ(config->max_command_rate, 1000u);
  EXPECT_EQ(config->append_limit, 64u << 20);
  EXPECT_EQ(config->data_dir, dir_ / "data") << "relative to the config file's directory";
  EXPECT_TRUE(config->tls_cert.empty());
  EXPECT_TRUE(config->tls_key.empty());
  EXPECT_EQ(config->listeners[0].port, 0);
  const auto& accounts = config->users[0].accounts;
  ASSERT_EQ(accounts.size(), 4U);
  EXPECT_EQ(accounts[0].tls, TlsMode::Implicit);
  EXPECT_EQ(accounts[0].port, 995);
  EXPECT_EQ(accounts[0].verify, VerifyCertificates::Yes);
  EXPECT_EQ(accounts[0].poll_interval, std::chrono::minutes(5));
  EXPECT_EQ(accounts[0].retention, Retention::Keep);
  EXPECT_EQ(accounts[0].folder, "INBOX");
  EXPECT_TRUE(accounts[0].ca_file.empty());
  EXPECT_EQ(accounts[0].password, "p");
  EXPECT_EQ(accounts[1].port, 110);
  EXPECT_EQ(accounts[2].port, 110);
  EXPECT_EQ(accounts[2].folder, "INBOX") << "INBOX is case-insensitive";
  EXPECT_EQ(accounts[3].port, 2110);
  EXPECT_EQ(accounts[3].folder, "Archive");
}

TEST_F(ConfigTest, AllOptionalKeysParsed) {
  writeFile(dir_ / "ca.pem", "ca");
  std::string yaml = baseYaml("starttls", "retention: delete");
  yaml +=
      "        verify_certificates: false\n"
      "        ca_file: ca.pem\n"
      "        poll_interval: 250ms\n"
      "        port: 1110\n"
      "        folder: Pulled\n";
  replaceAll(yaml, "data_dir: /var/lib/popbridge\n",
             "data_dir: /var/lib/popbridge\nlog_level: debug\n");
  replaceAll(yaml, "  listen:\n", "  plaintext_auth: never\n  append_limit: 200M\n  listen:\n");
  auto config = parseConfig(yaml, dir_ / "c.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->log_level, LogLevel::Debug);
  EXPECT_EQ(config->plaintext_auth, PlaintextAuth::Never);
  EXPECT_EQ(config->append_limit, 200u << 20);
  const PopAccount& account = config->users[0].accounts[0];
  EXPECT_EQ(account.tls, TlsMode::Starttls);
  EXPECT_EQ(account.retention, Retention::Delete);
  EXPECT_EQ(account.verify, VerifyCertificates::No);
  EXPECT_EQ(account.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(account.poll_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(account.port, 1110);
  EXPECT_EQ(account.folder, "Pulled");
}

TEST_F(ConfigTest, ConnectionLimits) {
  std::string yaml = baseYaml("implicit");
  replaceAll(yaml, "  listen:\n",
             "  auth_failure_delay: 500ms\n  max_command_rate: 50\n  listen:\n");
  auto config = parseConfig(yaml, dir_ / "c.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->auth_failure_delay, std::chrono::milliseconds(500));
  EXPECT_EQ(config->max_command_rate, 50u);

  yaml = baseYaml("implicit");
  replaceAll(yaml, "  listen:\n",
             "  auth_failure_delay: 0s\n  max_command_rate: unlimited\n  listen:\n");
  config = parseConfig(yaml, dir_ / "c.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->auth_failure_delay, std::chrono::milliseconds(0));
  EXPECT_FALSE(config->max_command_rate);

  yaml = baseYaml("implicit");
  replaceAll(yaml, "  listen:\n", "  auth_failure_delay: 2m\n  listen:\n");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:3:3: imap.auth_failure_delay: must be at most 30s, got 2m");
  yaml = baseYaml("implicit");
  replaceAll(yaml, "  listen:\n", "  max_command_rate: 0\n  listen:\n");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:3:3: imap.max_command_rate: expected a positive whole number, "
            "got \"0\"");
}

TEST_F(ConfigTest, WrongEnumValueNamesFileLineColumnAndKeyPath) {
  const ConfigError error = expectError(baseYaml("tsl"));
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:11:9: users[0].accounts[0].tls: expected one of implicit, "
            "starttls, none, got \"tsl\"");
  EXPECT_EQ(error.file, "/etc/popbridge.yaml");
  EXPECT_EQ(error.line, 11);
  EXPECT_EQ(error.column, 9);
}

TEST_F(ConfigTest, UnknownKeyWithSuggestion) {
  const ConfigError error = expectError(baseYaml("implicit", "pasword_env: X"));
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:13:9: users[0].accounts[0].pasword_env: unknown key "
            "\"pasword_env\" (did you mean \"password_env\"?)");
}

TEST_F(ConfigTest, UnknownKeyWithoutSuggestionListsKnownKeys) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "imap:\n", "imap:\n  colour: blue\n");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:3:3: imap.colour: unknown key \"colour\" (expected one of: "
            "listen, tls, plaintext_auth, append_limit, auth_failure_delay, max_command_rate)");
}

TEST_F(ConfigTest, BadAppendLimitNamesItsKey) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "imap:\n", "imap:\n  append_limit: 0\n");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:3:3: imap.append_limit: must be more than 0 and at most 1024G");
  yaml = baseYaml();
  replaceAll(yaml, "imap:\n", "imap:\n  append_limit: 2000G\n");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:3:3: imap.append_limit: must be more than 0 and at most 1024G");
  yaml = baseYaml();
  replaceAll(yaml, "imap:\n", "imap:\n  append_limit: lots\n");
  EXPECT_NE(expectError(yaml).toString().find("/etc/popbridge.yaml:3:3: imap.append_limit: "),
            std::string::npos);
}

TEST_F(ConfigTest, UnknownTopLevelKey) {
  const ConfigError error = expectError("logLevel: info\n" + baseYaml());
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:1:1: logLevel: unknown key \"logLevel\" (did you mean "
            "\"log_level\"?)");
}

TEST_F(ConfigTest, MissingRequiredKeyNamesTheMapping) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "        host: pop.example.net\n", "");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:9:9: users[0].accounts[0]: missing required key \"host\"");
}

TEST_F(ConfigTest, MissingTopLevelKey) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "data_dir: /var/lib/popbridge\n", "");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:1:1: missing required key \"data_dir\" at the top level");
}

TEST_F(ConfigTest, MissingKeyInFlowMapping) {
  std::string yaml = baseYaml();
  replaceAll(yaml, ", tls: none }", " }");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:4:7: imap.listen[0]: missing required key \"tls\"");
}

TEST_F(ConfigTest, YamlSyntaxErrorKeepsPosition) {
  const ConfigError error = expectError("data_dir: /x\nimap: [1, 2\nusers: []\n");
  EXPECT_EQ(error.file, "/etc/popbridge.yaml");
  EXPECT_GT(error.line, 0);
  EXPECT_GT(error.column, 0);
  EXPECT_TRUE(error.key_path.empty());
  EXPECT_EQ(error.toString().rfind("/etc/popbridge.yaml:" + std::to_string(error.line) + ":", 0),
            0U)
      << error.toString();
  EXPECT_NE(error.message.find("flow"), std::string::npos) << error.message;
}

TEST_F(ConfigTest, TabIndentationIsASyntaxError) {
  const ConfigError error = expectError("data_dir: /x\nimap:\n\tlisten: []\n");
  EXPECT_EQ(error.line, 3);
  EXPECT_TRUE(error.key_path.empty());
}

TEST_F(ConfigTest, EmptyFile) {
  const ConfigError error = expectError("");
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml: the file is empty; expected a mapping with data_dir, imap and "
            "users");
}

TEST_F(ConfigTest, WrongNodeType) {
  ConfigError error = expectError(
      "data_dir: /d\nimap: {listen: [{address: '127.0.0.1:1', tls: none}]}\nusers: {a: 1}\n");
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:3:1: users: expected a list (\"- \" entries), "
            "got a mapping");

  error = expectError("data_dir: [a, b]\nimap: {listen: []}\nusers: []\n");
  EXPECT_EQ(error.toString(), "/etc/popbridge.yaml:1:1: data_dir: expected a string, got a list");

  error = expectError("data_dir:\nimap: {listen: []}\nusers: []\n");
  EXPECT_EQ(error.toString(), "/etc/popbridge.yaml:1:1: data_dir: expected a string, got nothing");
}

TEST_F(ConfigTest, DuplicateYamlKey) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "        username: alice@example.net\n",
             "        username: alice@example.net\n        host: other.example.net\n");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:13:9: users[0].accounts[0].host: duplicate key \"host\" (first "
            "set on line 10)");
}

TEST_F(ConfigTest, PasswordFileTrailingNewlineStripped) {
  for (const auto& [content, expected] :
       std::vector<std::pair<std::string, std::string>>{{"s3cret\n", "s3cret"},
                                                        {"s3cret\r\n", "s3cret"},
                                                        {"s3cret", "s3cret"},
                                                        {" spaced out \n", " spaced out "}}) {
    writeFile(secret_, content);
    auto config = parseConfig(baseYaml(), "/etc/popbridge.yaml");
    ASSERT_TRUE(config.has_value()) << config.error().toString();
    EXPECT_EQ(config->users[0].accounts[0].password, expected);
  }
}

TEST_F(ConfigTest, PasswordFileWithSeveralLinesOrEmptyRefused) {
  writeFile(secret_, "line1\nline2\n");
  ConfigError error = expectError(baseYaml());
  EXPECT_EQ(error.key_path, "users[0].accounts[0].password_file");
  EXPECT_EQ(error.line, 14);
  EXPECT_NE(error.message.find("line break"), std::string::npos) << error.message;

  writeFile(secret_, "\n");
  error = expectError(baseYaml());
  EXPECT_EQ(error.message, "password file \"" + secret_.string() + "\" is empty");
}

TEST_F(ConfigTest, MissingPasswordFileNamesFileAndKey) {
  fs::remove(secret_);
  const ConfigError error = expectError(baseYaml());
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:14:9: users[0].accounts[0].password_file: "
            "cannot read password file \"" +
                secret_.string() + "\": No such file or directory");
}

TEST_F(ConfigTest, RelativePasswordFileResolvedAgainstConfigDirectory) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "password_file: " + secret_.string(), "password_file: pop-secret");
  auto config = parseConfig(yaml, dir_ / "popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].password, "pop-password");
}

TEST_F(ConfigTest, PasswordFromEnvironment) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "password_file: " + secret_.string(), "password_env: PB_CONFIG_TEST_SECRET");
  ASSERT_EQ(unsetenv("PB_CONFIG_TEST_SECRET"), 0);
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:14:9: users[0].accounts[0].password_env: "
            "environment variable PB_CONFIG_TEST_SECRET is not set");

  ASSERT_EQ(setenv("PB_CONFIG_TEST_SECRET", "from-env", 1), 0);
  auto config = parseConfig(yaml, "/etc/popbridge.yaml");
  ASSERT_EQ(unsetenv("PB_CONFIG_TEST_SECRET"), 0);
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].password, "from-env");
}

TEST_F(ConfigTest, InlinePassword) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "password_file: " + secret_.string(), "password: \"inline: pw\"");
  auto config = parseConfig(yaml, "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].password, "inline: pw");
}

TEST_F(ConfigTest, ExactlyOnePasswordSource) {
  ConfigError error = expectError(baseYaml("implicit", "password: also"));
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:14:9: users[0].accounts[0].password_file: conflicts with "
            "password; set exactly one of password_file, password_env or password");
  std::string yaml = baseYaml();
  replaceAll(yaml, "        password_file: " + secret_.string() + "\n", "");
  error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:9:9: users[0].accounts[0]: missing the POP password: set "
            "exactly one of password_file, password_env or password");
}

TEST_F(ConfigTest, PlaintextPasswordForLocalUserRefused) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "    password_hash: \"" + validHash() + "\"\n", "    password: hunter2\n");
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.line, 7);
  EXPECT_EQ(error.column, 5);
  EXPECT_EQ(error.key_path, "users[0].password");
  EXPECT_NE(error.message.find("popbridge hash-password"), std::string::npos) << error.message;
}

TEST_F(ConfigTest, UnsupportedPasswordHashRefused) {
  for (const std::string& bad : std::vector<std::string>{
           std::string("hunter2"), std::string("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"),
           std::string("abJnggxhB/yWI"), validHash().substr(0, validHash().size() - 3),
           validHash() + "xx", std::string("$y$")}) {
    std::string yaml = baseYaml();
    replaceAll(yaml, validHash(), bad);
    const ConfigError error = expectError(yaml);
    EXPECT_EQ(error.key_path, "users[0].password_hash") << bad;
    EXPECT_EQ(error.line, 7) << bad;
    EXPECT_NE(error.message.find("not a supported crypt(3) hash"), std::string::npos) << bad;
  }
}

TEST_F(ConfigTest, DuplicateUserNamesIgnoringCase) {
  std::string yaml = baseYaml();
  yaml +=
      "  - name: Alice\n"
      "    password_hash: \"" +
      validHash() + "\"\n";
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.line, 15);
  EXPECT_EQ(error.column, 5);
  EXPECT_EQ(error.key_path, "users[1].name");
  EXPECT_EQ(error.message,
            "duplicate user name \"Alice\" (also users[0]; names are compared ignoring case)");
}

TEST_F(ConfigTest, DuplicateAccountNames) {
  std::string yaml = baseYaml();
  yaml += "      - { name: provider, host: h, username: u, password: p }\n";
  const ConfigError error = expectError(yaml);
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:15:9: users[0].accounts[1].name: duplicate "
            "account name \"provider\" (also users[0].accounts[0])");
}

TEST_F(ConfigTest, SameAccountNameForDifferentUsersAllowed) {
  std::string yaml = baseYaml();
  yaml +=
      "  - name: bob\n"
      "    password_hash: \"" +
      validHash() +
      "\"\n"
      "    accounts: [{ name: provider, host: h, username: u, password: p }]\n";
  auto config = parseConfig(yaml, "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->users.size(), 2U);
  EXPECT_EQ(config->findUser("bob")->accounts[0].name, "provider");
}

TEST_F(ConfigTest, UnsafeUserNameRefused) {
  for (const std::string& bad : std::vector<std::string>{"../etc", ".hidden", "a b", "x/y"}) {
    std::string yaml = baseYaml();
    replaceAll(yaml, "  - name: alice\n", "  - name: \"" + bad + "\"\n");
    const ConfigError error = expectError(yaml);
    EXPECT_EQ(error.key_path, "users[0].name") << bad;
    EXPECT_EQ(error.line, 6) << bad;
  }
}

TEST_F(ConfigTest, ListenersIncludingIpv6) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "    - { address: \"127.0.0.1:1143\", tls: none }\n",
             "    - { address: \"[::1]:1143\", tls: none }\n"
             "    - address: \"[::]:0\"\n"
             "      tls: none\n"
             "    - { address: 10.1.2.3:65535, tls: none }\n");
  auto config = parseConfig(yaml, "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  ASSERT_EQ(config->listeners.size(), 3U);
  EXPECT_EQ(config->listeners[0].address, "[::1]:1143");
  EXPECT_EQ(config->listeners[0].host, "::1");
  EXPECT_EQ(config->listeners[0].port, 1143);
  EXPECT_EQ(config->listeners[1].host, "::");
  EXPECT_EQ(config->listeners[1].port, 0);
  EXPECT_EQ(config->listeners[2].host, "10.1.2.3");
  EXPECT_EQ(config->listeners[2].port, 65535);
}

TEST_F(ConfigTest, BadListenAddresses) {
  for (const std::string& bad :
       std::vector<std::string>{"::1:143", "localhost:143", "127.0.0.1", "127.0.0.1:70000",
                                "[::1]143", "[::1:143", "127.0.0.1:x"}) {
    std::string yaml = baseYaml();
    replaceAll(yaml, "127.0.0.1:1143", bad);
    const ConfigError error = expectError(yaml);
    EXPECT_EQ(error.key_path, "imap.listen[0].address") << bad;
    EXPECT_EQ(error.line, 4) << bad;
    EXPECT_EQ(error.column, 9) << bad;
  }
  std::string yaml = baseYaml();
  replaceAll(yaml, "127.0.0.1:1143", "::1:143");
  EXPECT_NE(expectError(yaml).message.find("[::1]:143"), std::string::npos);
}

TEST_F(ConfigTest, DuplicateListenAddress) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "    - { address: \"127.0.0.1:1143\", tls: none }\n",
             "    - { address: \"127.0.0.1:1143\", tls: none }\n"
             "    - { address: \"127.0.0.1:1143\", tls: none }\n");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:5:9: imap.listen[1].address: duplicate listen address "
            "\"127.0.0.1:1143\" (also imap.listen[0])");
}

TEST_F(ConfigTest, TlsListenerNeedsCertificate) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "tls: none }", "tls: implicit }");
  EXPECT_EQ(expectError(yaml).toString(),
            "/etc/popbridge.yaml:3:3: imap: missing required key \"tls\" (imap.listen[0] uses "
            "TLS)");

  writeFile(dir_ / "cert.pem", "cert");
  replaceAll(yaml, "  listen:\n", "  tls: { cert: cert.pem, key: key.pem }\n  listen:\n");
  auto config = parseConfig(yaml, dir_ / "c.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().key_path, "imap.tls.key");
  EXPECT_EQ(config.error().line, 3);
  EXPECT_EQ(config.error().message, "cannot read key file \"" + (dir_ / "key.pem").string() +
                                        "\": No such file or directory");

  writeFile(dir_ / "key.pem", "key");
  config = parseConfig(yaml, dir_ / "c.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->tls_cert, (dir_ / "cert.pem").string());
  EXPECT_EQ(config->tls_key, (dir_ / "key.pem").string());
}

TEST_F(ConfigTest, CertificateFilesIgnoredWithoutTlsListener) {
  std::string yaml = baseYaml();
  replaceAll(yaml, "  listen:\n",
             "  tls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem }\n  listen:\n");
  auto config = parseConfig(yaml, "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_TRUE(config->tls_cert.empty());
  EXPECT_TRUE(config->tls_key.empty());
}

TEST_F(ConfigTest, PortRangeAndDurations) {
  ConfigError error = expectError(baseYaml("implicit", "port: 0"));
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:13:9: users[0].accounts[0].port: port 0 is out of range "
            "(1-65535)");
  error = expectError(baseYaml("implicit", "port: 65536"));
  EXPECT_EQ(error.key_path, "users[0].accounts[0].port");

  error = expectError(baseYaml("implicit", "poll_interval: 50ms"));
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:13:9: users[0].accounts[0].poll_interval: must "
            "be at least 100ms, got 50ms");
  error = expectError(baseYaml("implicit", "poll_interval: 5"));
  EXPECT_EQ(error.key_path, "users[0].accounts[0].poll_interval");
  EXPECT_NE(error.message.find("needs a unit"), std::string::npos);

  auto config = parseConfig(baseYaml("implicit", "poll_interval: 1h30m"), "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->users[0].accounts[0].poll_interval, std::chrono::minutes(90));
}

TEST_F(ConfigTest, BooleanAndOtherEnums) {
  ConfigError error = expectError(baseYaml("implicit", "verify_certificates: nope"));
  EXPECT_EQ(error.message, "expected true or false, got \"nope\"");
  error = expectError(baseYaml("implicit", "retention: forever"));
  EXPECT_EQ(error.message,
            "expected one of keep, delete, delete_after, delete_when_expunged, keep_under, "
            "got \"forever\"");
  error = expectError("log_level: loud\n" + baseYaml());
  EXPECT_EQ(error.toString(),
            "/etc/popbridge.yaml:1:1: log_level: expected one of debug, info, "
            "warn, error, got \"loud\"");
}

TEST_F(ConfigTest, EmptyUsersAllowed) {
  auto config = parseConfig(
      "data_dir: /d\nimap: {listen: [{address: '127.0.0.1:1', tls: none}]}\n"
      "users: []\n",
      "/etc/popbridge.yaml");
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_TRUE(config->users.empty());
}

TEST_F(ConfigTest, LoadConfigUnreadableFile) {
  auto config = loadConfig(dir_ / "nope.yaml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().toString(),
            (dir_ / "nope.yaml").string() + ": cannot read config file: No such file or directory");
}

TEST_F(ConfigTest, LoadConfigReportsItsOwnPath) {
  const fs::path file = dir_ / "bad.yaml";
  writeFile(file, baseYaml("tsl"));
  auto config = loadConfig(file);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().toString().rfind(file.string() + ":11:9: users[0].accounts[0].tls:", 0),
            0U)
      << config.error().toString();
}

TEST(ConfigErrorTest, ToStringLeavesOutUnknownParts) {
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "a.b", "bad"}).toString(), "f.yaml:3:7: a.b: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "", "bad"}).toString(), "f.yaml:3:7: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 0, 0, "", "bad"}).toString(), "f.yaml: bad");
}

TEST(EnumNamesTest, MatchConfigSpelling) {
  EXPECT_EQ(toString(TlsMode::Starttls), "starttls");
  EXPECT_EQ(toString(TlsMode::Implicit), "implicit");
  EXPECT_EQ(toString(TlsMode::None), "none");
  EXPECT_EQ(toString(PlaintextAuth::Loopback), "loopback");
  EXPECT_EQ(toString(Retention::Delete), "delete");
  EXPECT_EQ(toString(LogLevel::Warn), "warn");
}

}  // namespace
}  // namespace popbridge::proxy::config

namespace popbridge::proxy::config {
namespace {

TEST_F(ConfigTest, ControlSocketDefaultsToDataDir) {
  auto config = parseConfig(baseYaml(), "/etc/popbridge.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->control_socket, fs::path("/var/lib/popbridge/control.sock"));
}

TEST_F(ConfigTest, ControlSocketIsResolvedAgainstTheConfigFile) {
  auto config = parseConfig("control_socket: run/pb.sock\n" + baseYaml(), "/etc/popbridge.yaml");
  ASSERT_TRUE(config) << config.error().toString();
  EXPECT_EQ(config->control_socket, fs::path("/etc/run/pb.sock"));
}

TEST_F(ConfigTest, ControlSocketTooLongForAUnixSocket) {
  const std::string long_path = "/" + std::string(120, 's');
  ConfigError error = expectError("control_socket: " + long_path + "\n" + baseYaml());
  EXPECT_EQ(error.key_path, "control_socket");
  EXPECT_EQ(error.line, 1);
  std::string yaml = baseYaml();
  replaceAll(yaml, "/var/lib/popbridge", "/" + std::string(100, 'd'));
  error = expectError(yaml);
  EXPECT_EQ(error.key_path, "data_dir");
  EXPECT_NE(error.message.find("control_socket"), std::string::npos) << error.message;
}

}  // namespace
}  // namespace popbridge::proxy::config
