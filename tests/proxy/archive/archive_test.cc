// Import and export against a real store in a temp directory (the daemon is not involved).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "proxy/archive/exporter.h"
#include "proxy/archive/importer.h"
#include "proxy/archive/progress.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace popbridge::proxy::archive {
namespace {

namespace fs = std::filesystem;
using store::testing::newMessage;
using store::testing::readBody;
using store::testing::TempDir;

void writeFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::open(data_.path());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    user_ = store_->user("alice").value();
  }

  Result<void> import(const fs::path& path, std::string_view into = "",
                      ImportSettings settings = {}) {
    auto plan = planImport(path, into);
    if (!plan) return fail(plan.error());
    Importer importer(*user_, settings, progress_);
    auto done = importer.run(*plan);
    summary_ = importer.summary();
    return done;
  }

  // Every mailbox name except the empty special-use ones each new user starts with.
  std::vector<std::string> mailboxNames() {
    static const std::set<std::string> kDefaults = {"Archive", "Drafts", "Junk", "Sent", "Trash"};
    std::vector<std::string> out;
    const auto mailboxes = user_->listMailboxes().value();
    for (const store::MailboxInfo& m : mailboxes) {
      if (kDefaults.count(m.name) != 0 && m.messages == 0) continue;
      out.push_back(m.name);
    }
    return out;
  }

  std::vector<store::MessageInfo> messages(std::string_view mailbox) {
    return user_->listMessages(user_->mailbox(mailbox).value().id).value();
  }

  TempDir data_;
  TempDir files_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<store::UserStore> user_;
  ProgressMeter progress_{stderr, ProgressStyle::Quiet, 0, 0};
  ImportSummary summary_;
};

std::string mbox(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += "From a@example.org Sat Nov 28 12:15:" + std::to_string(10 + i) + " 2026\n";
    out += "Subject: " + std::to_string(i) + "\nStatus: R\n\nbody " + std::to_string(i) + "\n\n";
  }
  return out;
}

TEST_F(ArchiveTest, MboxInBatchesKeepsOrderDatesAndFlags) {
  writeFile(files_.path() / "a.mbox", mbox(7));
  ImportSettings settings;
  settings.batch_messages = 3;
  ASSERT_TRUE(import(files_.path() / "a.mbox", "", settings));
  EXPECT_EQ(summary_.messages, 7u);
  const auto inbox = messages("INBOX");
  ASSERT_EQ(inbox.size(), 7u);
  for (std::size_t i = 0; i < inbox.size(); ++i) {
    EXPECT_EQ(inbox[i].internaldate, 1795868110 + static_cast<std::int64_t>(i));
    EXPECT_EQ(inbox[i].flags.system, store::kSeen);
    EXPECT_EQ(readBody(*user_, user_->mailbox("INBOX").value().id, inbox[i].uid),
              "Subject: " + std::to_string(i) + "\r\nStatus: R\r\n\r\nbody " + std::to_string(i) +
                  "\r\n");
  }
}

TEST_F(ArchiveTest, MboxBatchByBytes) {
  writeFile(files_.path() / "a.mbox", mbox(5));
  ImportSettings settings;
  settings.batch_bytes = 1;  // every message its own batch
  ASSERT_TRUE(import(files_.path() / "a.mbox", "Lists/Old", settings));
  EXPECT_EQ(messages("Lists/Old").size(), 5u);
  ASSERT_EQ(summary_.mailboxes.size(), 1u);
  EXPECT_TRUE(summary_.mailboxes[0].created);
}

TEST_F(ArchiveTest, DateHeaderThenMtimeWhenNoEnvelopeDate) {
  writeFile(files_.path() / "a.mbox", "From someone\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n\nx\n");
  writeFile(files_.path() / "b.mbox", "From someone\nSubject: no date\n\nx\n");
  const timespec times[2] = {{1234567890, 0}, {1234567890, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (files_.path() / "b.mbox").c_str(), times, 0), 0);
  ASSERT_TRUE(import(files_.path()));
  EXPECT_EQ(mailboxNames(), (std::vector<std::string>{"INBOX", "a", "b"}));
  ASSERT_EQ(messages("a").size(), 1u);
  EXPECT_EQ(messages("a")[0].internaldate, 1057049557);
  EXPECT_EQ(messages("a")[0].tz_offset_minutes, 120);
  EXPECT_EQ(messages("b")[0].internaldate, 1234567890);
}

TEST_F(ArchiveTest, DirectoryOfMboxFilesWithThunderbirdFolders) {
  writeFile(files_.path() / "Inbox", mbox(1));
  writeFile(files_.path() / "Inbox.msf", "// index");
  writeFile(files_.path() / "Work.sbd" / "Projects", mbox(2));
  writeFile(files_.path() / "notes.txt", "not mail\n");
  auto plan = planImport(files_.path(), "");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->sources.size(), 2u);
  EXPECT_EQ(plan->sources[0].mailbox, "INBOX");  // "Inbox" is INBOX (RFC 9051 5.1)
  EXPECT_EQ(plan->sources[1].mailbox, "Work/Projects");
  ASSERT_EQ(plan->warnings.size(), 1u);
  EXPECT_NE(plan->warnings[0].find("notes.txt"), std::string::npos);
  ASSERT_TRUE(import(files_.path()));
  EXPECT_EQ(messages("Work/Projects").size(), 2u);
}

TEST_F(ArchiveTest, MaildirFlagsKeywordsAndCrlf) {
  const fs::path root = files_.path() / "Maildir";
  writeFile(root / "new" / "1600000002.M1.host", "Subject: new\n\nlf\n");
  writeFile(root / "cur" / "1600000001.M1.host:2,RSab", "Subject: cur\r\n\r\ncrlf\r\n");
  writeFile(root / "dovecot-keywords", "0 $Forwarded\n1 bad keyword\n");
  writeFile(root / ".A.B" / "cur" / "1.x:2,T", "Subject: deep\n\n");
  fs::create_directories(root / ".A.B" / "tmp");
  ASSERT_TRUE(import(root));
  EXPECT_EQ(mailboxNames(), (std::vector<std::string>{"A/B", "INBOX"}));
  const auto inbox = messages("INBOX");
  ASSERT_EQ(inbox.size(), 2u);
  // Delivery order by name: the cur/ file's timestamp is older.
  EXPECT_EQ(inbox[0].flags.system, store::kAnswered | store::kSeen);
  EXPECT_EQ(inbox[0].flags.keywords, (std::vector<std::string>{"$Forwarded"}));
  EXPECT_EQ(summary_.skipped_keywords, 1u);
  EXPECT_EQ(inbox[1].flags.system, 0u);
  const auto id = user_->mailbox("INBOX").value().id;
  EXPECT_EQ(readBody(*user_, id, inbox[0].uid), "Subject: cur\r\n\r\ncrlf\r\n");
  EXPECT_EQ(readBody(*user_, id, inbox[1].uid), "Subject: new\r\n\r\nlf\r\n");
  EXPECT_EQ(messages("A/B")[0].flags.system, store::kDeleted);
}

TEST_F(ArchiveTest, MaildirIntoAnotherMailbox) {
  const fs::path root = files_.path() / "Maildir";
  writeFile(root / "cur" / "1.x:2,S", "Subject: a\n\n");
  writeFile(root / ".Sent" / "cur" / "2.x:2,S", "Subject: b\n\n");
  ASSERT_TRUE(import(root, "Old"));
  EXPECT_EQ(mailboxNames(), (std::vector<std::string>{"INBOX", "Old", "Old/Sent"}));
}

TEST_F(ArchiveTest, InvalidMailboxNameRefusedBeforeImporting) {
  writeFile(files_.path() / "a.mbox", mbox(1));
  auto done = import(files_.path() / "a.mbox", "bad//name");
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("bad//name"), std::string::npos) << done.error().message;
  EXPECT_EQ(mailboxNames(), (std::vector<std::string>{"INBOX"}));
}

TEST_F(ArchiveTest, CommittedBatchesStayWhenTheMboxTurnsOutBroken) {
  // Not an mbox past the first file: the first file's messages are committed, then an error.
  writeFile(files_.path() / "dir" / "a", mbox(2));
  writeFile(files_.path() / "dir" / "b", "From x Sat Nov 28 12:15:17 2026\n\nok\n");
  auto plan = planImport(files_.path() / "dir", "");
  ASSERT_TRUE(plan);
  writeFile(files_.path() / "dir" / "b", "Subject: replaced meanwhile\n\n");
  Importer importer(*user_, {}, progress_);
  auto done = importer.run(*plan);
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("not an mbox"), std::string::npos);
  EXPECT_EQ(importer.summary().messages, 2u);
  EXPECT_EQ(messages("a").size(), 2u);
}

// An import run again (after an interruption, or by mistake) adds only what is missing: each
// message already in the mailbox with the same bytes stands for one copy in the source.
TEST_F(ArchiveTest, ImportingAgainAddsOnlyWhatIsMissing) {
  std::string source = mbox(5);
  // Two identical copies in the source: both kept on the first run.
  source += "From a@example.org Sat Nov 28 12:16:00 2026\nSubject: twin\n\nsame\n\n";
  source += "From a@example.org Sat Nov 28 12:16:01 2026\nSubject: twin\n\nsame\n\n";
  // Same size as "body 0", other bytes: not a duplicate of it.
  writeFile(files_.path() / "first.mbox", mbox(3));
  ASSERT_TRUE(import(files_.path() / "first.mbox", "Old"));
  EXPECT_EQ(summary_.messages, 3u);
  EXPECT_EQ(summary_.already_there, 0u);

  // The full source: the 3 committed before are skipped, the other 4 are added.
  writeFile(files_.path() / "all.mbox", source);
  ASSERT_TRUE(import(files_.path() / "all.mbox", "Old"));
  EXPECT_EQ(summary_.messages, 4u);
  EXPECT_EQ(summary_.already_there, 3u);
  ASSERT_EQ(summary_.mailboxes.size(), 1u);
  EXPECT_EQ(summary_.mailboxes[0].already_there, 3u);
  EXPECT_EQ(messages("Old").size(), 7u);

  // Once more: nothing to add, the twins included.
  ASSERT_TRUE(import(files_.path() / "all.mbox", "Old"));
  EXPECT_EQ(summary_.messages, 0u);
  EXPECT_EQ(summary_.already_there, 7u);
  EXPECT_EQ(messages("Old").size(), 7u);

  // A message that differs in one byte (same size) is new; another mailbox has nothing yet.
  std::string changed = mbox(1);
  changed.replace(changed.find("body 0"), 6, "body X");
  writeFile(files_.path() / "changed.mbox", changed);
  ASSERT_TRUE(import(files_.path() / "changed.mbox", "Old"));
  EXPECT_EQ(summary_.messages, 1u);
  EXPECT_EQ(summary_.already_there, 0u);
  ASSERT_TRUE(import(files_.path() / "all.mbox", "Other"));
  EXPECT_EQ(summary_.messages, 7u);
  // No staged file is left behind by the skipped messages.
  EXPECT_EQ(store::testing::countFiles(user_->directory() / "tmp"), 0u);
}

class ExportTest : public ArchiveTest {
 protected:
  void append(std::string_view mailbox, std::string_view body, store::Flags flags) {
    if (!user_->mailbox(mailbox)) {
      ASSERT_TRUE(user_->createMailbox(mailbox));
    }
    std::vector<store::NewMessage> batch;
    batch.push_back(newMessage(*user_, body, std::move(flags)));
    ASSERT_TRUE(user_->append(mailbox, std::move(batch)));
  }
};

TEST_F(ExportTest, WritesMaildirPlusPlus) {
  append("INBOX", "Subject: a\r\n\r\nbody\r\n", {store::kSeen | store::kFlagged, {"$Work"}});
  append("A/B", "Subject: b\r\n\r\n", {store::kDraft, {}});
  const fs::path out = files_.path() / "out";
  Exporter exporter(*user_, progress_);
  ASSERT_TRUE(exporter.run(out, ExistingDirectory::Refuse));
  EXPECT_EQ(exporter.summary().messages, 2u);

  const auto inbox = user_->mailbox("INBOX").value();
  const std::string name = "1700000000.1_" + std::to_string(inbox.uidvalidity) + ".popbridge:2,FSa";
  EXPECT_EQ(readFile(out / "cur" / name), "Subject: a\r\n\r\nbody\r\n");
  EXPECT_EQ(readFile(out / "dovecot-keywords"), "0 $Work\n");
  struct stat st {};
  ASSERT_EQ(::stat((out / "cur" / name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_TRUE(fs::is_directory(out / "new"));
  EXPECT_TRUE(fs::is_directory(out / "tmp"));
  EXPECT_TRUE(fs::exists(out / ".A.B" / "maildirfolder"));
  const auto ab = user_->mailbox("A/B").value();
  EXPECT_TRUE(fs::exists(out / ".A.B" / "cur" /
                         ("1700000000.1_" + std::to_string(ab.uidvalidity) + ".popbridge:2,D")));
  EXPECT_TRUE(fs::is_empty(out / "tmp"));
}

TEST_F(ExportTest, RefusesNonEmptyDirectoryUnlessForced) {
  append("INBOX", "Subject: a\r\n\r\n", {});
  const fs::path out = files_.path() / "out";
  writeFile(out / "something", "x");
  Exporter refused(*user_, progress_);
  auto done = refused.run(out, ExistingDirectory::Refuse);
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("--force"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "cur"));
  Exporter forced(*user_, progress_);
  ASSERT_TRUE(forced.run(out, ExistingDirectory::WriteInto));
  EXPECT_EQ(forced.summary().messages, 1u);
}

TEST_F(ExportTest, DotInAMailboxNameIsRefusedBeforeWriting) {
  append("INBOX", "Subject: a\r\n\r\n", {});
  append("v1.2", "Subject: b\r\n\r\n", {});
  const fs::path out = files_.path() / "out";
  Exporter exporter(*user_, progress_);
  auto done = exporter.run(out, ExistingDirectory::Refuse);
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("\"v1.2\""), std::string::npos) << done.error().message;
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(ExportTest, MoreThan26KeywordsAreCounted) {
  store::Flags flags;
  for (char c = 'a'; c <= 'z'; ++c) flags.keywords.push_back(std::string("k") + c);
  flags.keywords.push_back("z1");
  flags.keywords.push_back("z2");
  append("INBOX", "Subject: a\r\n\r\n", flags);
  Exporter exporter(*user_, progress_);
  ASSERT_TRUE(exporter.run(files_.path() / "out", ExistingDirectory::Refuse));
  EXPECT_EQ(exporter.summary().dropped_keywords, 2u);
}

TEST_F(ExportTest, ExportThenImportGivesTheSame) {
  append("INBOX", "Subject: a\r\n\r\nbody\r\n", {store::kSeen | store::kAnswered, {"$Work"}});
  append("Sent", "Subject: b\r\n\r\n", {store::kSeen, {}});
  const fs::path out = files_.path() / "out";
  Exporter exporter(*user_, progress_);
  ASSERT_TRUE(exporter.run(out, ExistingDirectory::Refuse));

  TempDir other;
  auto store2 = store::Store::open(other.path()).value();
  auto user2 = store2->user("bob").value();
  auto plan = planImport(out, "");
  ASSERT_TRUE(plan);
  Importer importer(*user2, {}, progress_);
  ASSERT_TRUE(importer.run(*plan));
  for (const char* mailbox : {"INBOX", "Sent"}) {
    const auto a = user_->mailbox(mailbox).value();
    const auto b = user2->mailbox(mailbox).value();
    const auto ma = user_->listMessages(a.id).value();
    const auto mb = user2->listMessages(b.id).value();
    ASSERT_EQ(ma.size(), mb.size());
    for (std::size_t i = 0; i < ma.size(); ++i) {
      EXPECT_EQ(ma[i].flags, mb[i].flags);
      EXPECT_EQ(ma[i].internaldate, mb[i].internaldate);
      EXPECT_EQ(readBody(*user_, a.id, ma[i].uid), readBody(*user2, b.id, mb[i].uid));
    }
  }
}

TEST(Progress, BarWithTotals) {
  const std::string line = formatProgressBar({50, 100, 512 * 1024, 1024 * 1024}, 10, 80);
  EXPECT_EQ(line,
            "[#############-------------]  50%  50/100 messages  512.0 KB of 1.0 MB  ETA 0:10");
  EXPECT_EQ(line.size(), 80u);  // the bar takes what the text leaves
  EXPECT_EQ(formatProgressBar({50, 100, 512 * 1024, 1024 * 1024}, 10, 200),
            "[####################--------------------]  50%  50/100 messages  512.0 KB of "
            "1.0 MB  ETA 0:10");
  EXPECT_EQ(formatProgressBar({1, 0, 100, 400}, 3700, 200).substr(0, 6), "[#####");
  EXPECT_NE(formatProgressBar({1, 0, 100, 400}, 3700, 200).find("ETA 3:05:00"), std::string::npos);
}

TEST(Progress, NarrowTerminalDropsTheBar) {
  const std::string text = formatProgressBar({50, 100, 512, 1024}, 10, 50);
  EXPECT_LE(text.size(), 50u);
  EXPECT_EQ(text.substr(0, 4), " 50%");
}

TEST(Progress, NoTotalsNoEta) {
  EXPECT_EQ(formatProgressBar({3, 0, 2048, 0}, 10, 80), "  3 messages  2.0 KB");
  EXPECT_EQ(formatBytes(1023), "1023 B");
  EXPECT_EQ(formatBytes(3ull << 30), "3.0 GB");
}

}  // namespace
}  // namespace popbridge::proxy::archive
