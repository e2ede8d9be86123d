// GETQUOTA, GETQUOTAROOT and SETQUOTA arguments and the QUOTA / QUOTAROOT responses (RFC 9208).

#include "protocols/imap/commands/quota.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/command.h"
#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using test::readOneCommand;
using test::readOneError;

TEST(QuotaCommandTest, GetQuotaTakesARootName) {
  Command command = readOneCommand("t GETQUOTA \"\"\r\n");
  EXPECT_EQ(command.name, "GETQUOTA");
  EXPECT_EQ(std::get<QuotaArgs>(command.args).name, "");
  EXPECT_EQ(std::get<QuotaArgs>(readOneCommand("t getquota root\r\n").args).name, "root");
  EXPECT_EQ(readOneError("t GETQUOTA\r\n").kind, ParseError::Kind::Bad);
  EXPECT_EQ(readOneError("t GETQUOTA a b\r\n").kind, ParseError::Kind::Bad);
}

TEST(QuotaCommandTest, GetQuotaRootTakesAMailboxInModifiedUtf7) {
  EXPECT_EQ(std::get<QuotaArgs>(readOneCommand("t GETQUOTAROOT inbox\r\n").args).name, "INBOX");
  EXPECT_EQ(std::get<QuotaArgs>(readOneCommand("t GETQUOTAROOT \"&AOk-t&AOk-\"\r\n").args).name,
            "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(readOneError("t GETQUOTAROOT &Jjo\r\n").kind, ParseError::Kind::Bad);
}

TEST(QuotaCommandTest, SetQuotaTakesResourceLimits) {
  Command command = readOneCommand("t SETQUOTA \"\" (storage 512 MESSAGE 1000)\r\n");
  const auto& args = std::get<QuotaArgs>(command.args);
  EXPECT_EQ(args.name, "");
  using Limits = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(args.limits, (Limits{{"STORAGE", 512}, {"MESSAGE", 1000}}));
  EXPECT_TRUE(std::get<QuotaArgs>(readOneCommand("t SETQUOTA x ()\r\n").args).limits.empty());
  EXPECT_EQ(command.redacted(), "t SETQUOTA \"\" STORAGE 512 MESSAGE 1000");
  for (const char* bad :
       {"t SETQUOTA \"\"\r\n", "t SETQUOTA \"\" (STORAGE)\r\n", "t SETQUOTA \"\" (STORAGE x)\r\n",
        "t SETQUOTA \"\" (STORAGE 1\r\n", "t SETQUOTA \"\" STORAGE 1\r\n"}) {
    EXPECT_EQ(readOneError(bad).kind, ParseError::Kind::Bad) << bad;
  }
}

TEST(QuotaCommandTest, QuotaResponses) {
  std::string out;
  const std::vector<QuotaResource> resources{{"STORAGE", 10, 512}, {"MESSAGE", 3, 100}};
  appendQuotaResponse(out, "", resources);
  EXPECT_EQ(out, "* QUOTA \"\" (STORAGE 10 512 MESSAGE 3 100)\r\n");
  out.clear();
  appendQuotaRootResponse(out, "INBOX", std::vector<std::string>{""});
  EXPECT_EQ(out, "* QUOTAROOT INBOX \"\"\r\n");
  out.clear();
  appendQuotaRootResponse(out, "A b", {});
  EXPECT_EQ(out, "* QUOTAROOT \"A b\"\r\n");
}

}  // namespace
}  // namespace popbridge::imap
