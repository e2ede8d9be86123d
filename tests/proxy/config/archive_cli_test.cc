// `popbridge import` and `popbridge export` on the command line: arguments reach the handlers,
// unknown users and bad options are usage errors.

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/auth/password.h"
#include "proxy/cli/cli.h"

namespace popbridge::proxy::cli {
namespace {

namespace fs = std::filesystem;

class ArchiveCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "pb_archive_cli.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    config_ = dir_ / "popbridge.yaml";
    std::ofstream(config_) << "data_dir: " << (dir_ / "data").string() << "\n"
                           << "imap:\n  listen:\n    - { address: \"127.0.0.1:0\", tls: none }\n"
                           << "users:\n  - name: alice\n    password_hash: \""
                           << auth::hashPassword("secret").value() << "\"\n    accounts: []\n";
    handlers_.import_mail = [this](const config::Config&, const ImportRequest& request) {
      imported_ = request;
      return 0;
    };
    handlers_.export_mail = [this](const config::Config&, const ExportRequest& request) {
      exported_ = request;
      return 0;
    };
  }
  void TearDown() override { fs::remove_all(dir_); }

  int run(std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"popbridge"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    std::ostringstream out;
    std::ostringstream err;
    CliIo io;
    io.out = &out;
    io.err = &err;
    const int code = runCli(static_cast<int>(argv.size()), argv.data(), handlers_, io);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  fs::path dir_;
  fs::path config_;
  CliHandlers handlers_;
  std::optional<ImportRequest> imported_;
  std::optional<ExportRequest> exported_;
  std::string out_;
  std::string err_;
};

TEST_F(ArchiveCliTest, ImportPassesItsArguments) {
  ASSERT_EQ(run({"import", "-c", config_.string(), "alice", "/tmp/mail.mbox"}), kExitOk) << err_;
  ASSERT_TRUE(imported_);
  EXPECT_EQ(imported_->user, "alice");
  EXPECT_EQ(imported_->path, "/tmp/mail.mbox");
  EXPECT_EQ(imported_->into, "");
  EXPECT_EQ(imported_->mbox_format, "mboxrd");

  ASSERT_EQ(run({"import", "-c", config_.string(), "--into", "Old/Mail", "--mbox-format", "mboxo",
                 "alice", "x"}),
            kExitOk);
  EXPECT_EQ(imported_->into, "Old/Mail");
  EXPECT_EQ(imported_->mbox_format, "mboxo");
}

TEST_F(ArchiveCliTest, ExportPassesItsArguments) {
  ASSERT_EQ(run({"export", "-c", config_.string(), "alice", "/tmp/out"}), kExitOk) << err_;
  ASSERT_TRUE(exported_);
  EXPECT_EQ(exported_->dir, "/tmp/out");
  EXPECT_FALSE(exported_->force);
  ASSERT_EQ(run({"export", "-c", config_.string(), "--force", "alice", "/tmp/out"}), kExitOk);
  EXPECT_TRUE(exported_->force);
}

TEST_F(ArchiveCliTest, UsageErrors) {
  EXPECT_EQ(run({"import", "-c", config_.string(), "carol", "x"}), kExitUsage);
  EXPECT_NE(err_.find("no user \"carol\""), std::string::npos) << err_;
  EXPECT_EQ(run({"export", "-c", config_.string(), "carol", "x"}), kExitUsage);
  EXPECT_EQ(run({"import", "-c", config_.string(), "alice"}), kExitUsage);
  EXPECT_EQ(run({"import", "-c", config_.string(), "--mbox-format", "mboxcl", "alice", "x"}),
            kExitUsage);
  EXPECT_FALSE(imported_);
  EXPECT_FALSE(exported_);
}

TEST_F(ArchiveCliTest, HelpSaysImportingTwiceImportsTwice) {
  EXPECT_EQ(run({"import", "--help"}), kExitOk);
  EXPECT_NE(out_.find("twice imports its messages twice"), std::string::npos) << out_;
  EXPECT_NE(out_.find("Stop the daemon first"), std::string::npos) << out_;
}

}  // namespace
}  // namespace popbridge::proxy::cli
