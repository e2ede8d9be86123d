#include "proxy/cli/cli.h"

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp, setenv, unsetenv

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "proxy/auth/password.h"

namespace popbridge::proxy::cli {
namespace {

namespace fs = std::filesystem;

const std::string& validHash() {
  static const std::string hash = auth::hashPassword("local-secret").value();
  return hash;
}

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "pb_cli_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    config_ = dir_ / "popbridge.yaml";
    writeConfig("true");
    ASSERT_EQ(unsetenv("POPBRIDGE_CONFIG"), 0);
  }
  void TearDown() override {
    unsetenv("POPBRIDGE_CONFIG");
    fs::remove_all(dir_);
  }

  // Two users, three POP accounts, two listeners. Line 11 holds the first account's tls.
  void writeConfig(const std::string& verify, const std::string& first_tls = "implicit") const {
    writeFile(config_,
              "data_dir: " + (dir_ / "data").string() + "\n" +       // 1
                  "imap:\n"                                          // 2
                  "  listen:\n"                                      // 3
                  "    - { address: \"127.0.0.1:0\", tls: none }\n"  // 4
                  "    - { address: \"[::1]:0\", tls: none }\n"      // 5
                  "users:\n"                                         // 6
                  "  - name: alice\n"                                // 7
                  "    password_hash: \"" +
                  validHash() + "\"\n" +  // 8
                  "    accounts:\n"       // 9
                  "      - name: one\n"   // 10
                  "        tls: " +
                  first_tls + "\n" +                 // 11
                  "        host: pop.example.net\n"  // 12
                  "        username: a\n"            // 13
                  "        password: p\n"            // 14
                  "        verify_certificates: " +
                  verify + "\n" +  // 15
                  "      - { name: two, host: h, username: u, password: p }\n"
                  "  - name: bob\n"
                  "    password_hash: \"" +
                  validHash() + "\"\n" +
                  "    accounts: [{ name: one, host: h, username: u, password: p }]\n");
  }

  CliRun run(std::initializer_list<std::string> args, const std::string& input = "") const {
    std::vector<std::string> storage{"popbridge"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) {
      argv.push_back(arg.data());
    }
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    CliIo io;
    io.in = &in;
    io.out = &out;
    io.err = &err;
    io.password_input = PasswordInput::Stream;
    CliRun result;
    result.code = runCli(static_cast<int>(argv.size()), argv.data(), handlers_, io);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  fs::path dir_;
  fs::path config_;
  CliHandlers handlers_;
};

TEST_F(CliTest, Version) {
  const CliRun r = run({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "popbridge 0.1.0\n");
  EXPECT_EQ(std::string("popbridge ") + POPBRIDGE_VERSION + "\n", r.out);
}

TEST_F(CliTest, VersionOnRealStdout) {
  std::vector<std::string> storage{"popbridge", "--version"};
  std::vector<char*> argv{storage[0].data(), storage[1].data()};
  ::testing::internal::CaptureStdout();
  const int code = runCli(2, argv.data(), CliHandlers{});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "popbridge 0.1.0\n");
}

TEST_F(CliTest, HelpOnEveryLevel) {
  CliRun r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* name : {"serve", "check-config", "hash-password", "store", "--version"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name << " missing from\n" << r.out;
  }
  r = run({"check-config", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("-c,--config FILE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/etc/popbridge/config.yaml"), std::string::npos) << r.out;
  r = run({"serve", "-h"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--config"), std::string::npos) << r.out;
  r = run({"store", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("check"), std::string::npos) << r.out;
  r = run({"store", "check", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("users"), std::string::npos) << r.out;
  r = run({"hash-password", "--help"});
  EXPECT_EQ(r.code, 0);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  CliRun r = run({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("check-config"), std::string::npos) << "bare call shows help: " << r.err;
  EXPECT_EQ(r.out, "");
  r = run({"frobnicate"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_FALSE(r.err.empty());
  r = run({"check-config", "--bogus"});
  EXPECT_EQ(r.code, kExitUsage);
  r = run({"store"});
  EXPECT_EQ(r.code, kExitUsage);
  r = run({"check-config", "-c"});
  EXPECT_EQ(r.code, kExitUsage);
}

TEST_F(CliTest, CheckConfigOk) {
  const CliRun r = run({"check-config", "-c", config_.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, config_.string() + ": ok (2 users, 3 POP accounts, 2 listeners)\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, CheckConfigWarnsAboutWeakSettings) {
  writeConfig("false");
  CliRun r = run({"check-config", "--config", config_.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, config_.string() +
                       ": warning: users[0].accounts[0] (alice/one): verify_certificates is false: "
                       "the server's identity is not checked\n");
  writeConfig("true", "none");
  r = run({"check-config", "--config", config_.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("users[0].accounts[0] (alice/one): tls is none"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, CheckConfigErrorExitsTwo) {
  writeConfig("true", "tsl");
  const CliRun r = run({"check-config", "-c", config_.string()});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "popbridge: " + config_.string() +
                       ":11:9: users[0].accounts[0].tls: expected one of implicit, starttls, "
                       "none, got \"tsl\"\n");
}

TEST_F(CliTest, CheckConfigMissingFile) {
  const CliRun r = run({"check-config", "-c", (dir_ / "absent.yaml").string()});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("absent.yaml: cannot read config file"), std::string::npos) << r.err;
}

TEST_F(CliTest, ConfigPathFromEnvironment) {
  ASSERT_EQ(setenv("POPBRIDGE_CONFIG", config_.c_str(), 1), 0);
  EXPECT_EQ(defaultConfigPath(), config_.string());
  const CliRun r = run({"check-config"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(config_.string() + ": ok", 0), 0U) << r.out;

  // An explicit -c wins over the environment.
  const CliRun other = run({"check-config", "-c", (dir_ / "absent.yaml").string()});
  EXPECT_EQ(other.code, kExitUsage);

  ASSERT_EQ(unsetenv("POPBRIDGE_CONFIG"), 0);
  EXPECT_EQ(defaultConfigPath(), "/etc/popbridge/config.yaml");
}

TEST_F(CliTest, ServeCallsHandlerWithLoadedConfig) {
  int calls = 0;
  handlers_.serve = [&](const config::Config& config) {
    ++calls;
    EXPECT_EQ(config.source, config_);
    EXPECT_EQ(config.users.size(), 2U);
    return 7;
  };
  EXPECT_EQ(run({"serve", "-c", config_.string()}).code, 7);
  EXPECT_EQ(calls, 1);

  writeConfig("maybe");
  const CliRun r = run({"serve", "-c", config_.string()});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(calls, 1) << "serve must not run with a bad config";
  EXPECT_NE(r.err.find(":15:9: users[0].accounts[0].verify_certificates: expected true or false"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, ServeWithoutHandler) {
  const CliRun r = run({"serve", "-c", config_.string()});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err, "popbridge: serve is not available in this build\n");
}

TEST_F(CliTest, HashPasswordFromStream) {
  CliRun r = run({"hash-password"}, "s3cret pass\n");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  ASSERT_EQ(r.out.back(), '\n');
  const std::string hash = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(hash.rfind("$y$", 0), 0U);
  EXPECT_TRUE(auth::verifyPassword("s3cret pass", hash));
  EXPECT_FALSE(auth::verifyPassword("s3cret pass\n", hash));

  r = run({"hash-password"}, "crlf\r\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(auth::verifyPassword("crlf", r.out.substr(0, r.out.size() - 1)));

  r = run({"hash-password"}, "no-newline");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(auth::verifyPassword("no-newline", r.out.substr(0, r.out.size() - 1)));
}

TEST_F(CliTest, HashPasswordNeedsInput) {
  CliRun r = run({"hash-password"}, "");
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "popbridge: hash-password: no password on standard input\n");
  r = run({"hash-password"}, "\n");
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_NE(r.err.find("empty password"), std::string::npos) << r.err;
}

TEST_F(CliTest, StoreCheckPassesUsers) {
  std::vector<std::vector<std::string>> seen;
  handlers_.store_check = [&](const config::Config& config, const std::vector<std::string>& users) {
    EXPECT_EQ(config.source, config_);
    seen.push_back(users);
    return users.empty() ? 0 : 1;
  };
  EXPECT_EQ(run({"store", "check", "-c", config_.string()}).code, 0);
  EXPECT_EQ(run({"store", "check", "-c", config_.string(), "alice", "bob"}).code, 1);
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_TRUE(seen[0].empty());
  EXPECT_EQ(seen[1], (std::vector<std::string>{"alice", "bob"}));

  const CliRun r = run({"store", "check", "-c", config_.string(), "carol"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(seen.size(), 2U);
  EXPECT_NE(r.err.find("no user \"carol\""), std::string::npos) << r.err;
}

TEST_F(CliTest, StatusAndSyncPassTheirOptions) {
  std::vector<OutputFormat> formats;
  handlers_.status = [&](const config::Config& config, const StatusOptions& options) {
    EXPECT_EQ(config.source, config_);
    formats.push_back(options.format);
    return 0;
  };
  std::vector<std::pair<std::string, bool>> syncs;
  handlers_.sync = [&](const config::Config&, const SyncOptions& options) {
    syncs.emplace_back(options.target, options.once);
    return 1;
  };
  EXPECT_EQ(run({"status", "-c", config_.string()}).code, 0);
  EXPECT_EQ(run({"status", "-c", config_.string(), "--json"}).code, 0);
  EXPECT_EQ(formats, (std::vector<OutputFormat>{OutputFormat::Text, OutputFormat::Json}));
  EXPECT_EQ(run({"sync", "-c", config_.string()}).code, 1);
  EXPECT_EQ(run({"sync", "-c", config_.string(), "alice/one", "--once"}).code, 1);
  EXPECT_EQ(syncs, (std::vector<std::pair<std::string, bool>>{{"", false}, {"alice/one", true}}));
  EXPECT_EQ(run({"sync", "-c", config_.string(), "a", "b"}).code, kExitUsage);
  EXPECT_EQ(run({"status", "-c", config_.string(), "extra"}).code, kExitUsage);
  EXPECT_EQ(syncs.size(), 2U);
}

}  // namespace
}  // namespace popbridge::proxy::cli
