#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocols/mailfile/mbox.h"
#include "proxy/archive/archive_error.h"
#include "proxy/archive/progress.h"
#include "store/user_store.h"

namespace popbridge::proxy::archive {

enum class SourceKind { Mbox, MaildirFolder };

// One file or Maildir folder and the mailbox it goes into.
struct ImportSource {
  SourceKind kind;
  std::filesystem::path path;  // the mbox file, or the folder holding cur/ and new/
  std::string mailbox;         // canonical store name
};

struct ImportPlan {
  std::vector<ImportSource> sources;
  std::uint64_t total_bytes = 0;       // of every source file, for progress
  std::uint64_t maildir_messages = 0;  // files in the Maildir folders
  bool has_mbox = false;               // message count unknown in advance
  std::vector<std::string> warnings;   // files and directories skipped, and why
};

// What `path` holds, without reading any message:
// - a regular file: an mbox, into `into` (INBOX when empty);
// - a directory with cur/ or new/, or with Maildir++ folders (".Name" holding cur/ or new/): a
//   Maildir; its root goes into `into` (INBOX when empty), ".A.B" into "A/B" (below `into`
//   when given);
// - another directory: every file in it whose content starts with "From " is an mbox; the
//   mailbox is the file name without ".mbox"; Thunderbird's "Name.sbd" directories hold the
//   folders below "Name". Other files are skipped with a warning.
// Every mailbox name is checked (store/names.h) before anything is imported. Any thread.
Result<ImportPlan> planImport(const std::filesystem::path& path, std::string_view into);

struct MailboxCount {
  std::string mailbox;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;          // as stored (CRLF line ends)
  std::uint64_t already_there = 0;  // skipped: the mailbox held the same bytes before the import
  bool created = false;
};

struct ImportSummary {
  std::vector<MailboxCount> mailboxes;  // one per source, in import order
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t already_there = 0;
  std::uint64_t skipped_keywords = 0;  // keywords the store cannot hold (not an IMAP atom)
};

struct ImportSettings {
  mailfile::MboxFormat mbox_format = mailfile::MboxFormat::Rd;
  // A batch is appended (durably, in one transaction, as a POP pull's) when it reaches either.
  std::size_t batch_messages = 100;
  std::uint64_t batch_bytes = std::uint64_t{32} << 20;
};

// Imports a plan into one user's store: mailboxes are created when absent, messages appended
// in batches. Each batch is durable when append() returns, so after an error what was
// committed stays (summary() says how much). A message whose bytes equal those of a message
// the mailbox held before the import is skipped, each stored message standing for one such
// copy: importing a source again (after an interruption, say) adds only what is missing, while
// identical copies within one source are all kept. Borrows the store and the meter; use from
// one thread.
class Importer {
 public:
  Importer(store::UserStore& store, ImportSettings settings, ProgressMeter& progress)
      : store_(store), settings_(settings), progress_(progress) {}

  Result<void> run(const ImportPlan& plan);
  // What has been committed so far (complete after run() succeeded).
  const ImportSummary& summary() const { return summary_; }

 private:
  Result<void> openMailbox(const std::string& name);
  Result<void> importMbox(const ImportSource& source);
  Result<void> importMaildir(const ImportSource& source);
  // Queues a complete message; appends the batch when it is full.
  Result<void> add(store::NewMessage message);
  // Whether `body` equals a message the current mailbox held at openMailbox() that no earlier
  // message of this import matched; if so, that one counts as matched now.
  Result<bool> alreadyThere(store::StagedMessage& body);
  Result<void> flush();
  store::Flags storeFlags(const mailfile::MailFlags& flags);

  store::UserStore& store_;
  ImportSettings settings_;
  ProgressMeter& progress_;
  ImportSummary summary_;
  std::string mailbox_;  // of the current source
  std::int64_t mailbox_id_ = 0;
  // The current mailbox's messages at openMailbox() not matched yet, by size.
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> unmatched_by_size_;
  std::vector<store::NewMessage> batch_;
  std::uint64_t batch_bytes_ = 0;
};

}  // namespace popbridge::proxy::archive
