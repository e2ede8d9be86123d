#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "proxy/archive/archive_error.h"
#include "proxy/archive/importer.h"
#include "proxy/archive/progress.h"
#include "store/user_store.h"

namespace popbridge::proxy::archive {

// What to do when the target directory exists and is not empty.
enum class ExistingDirectory { Refuse, WriteInto };

struct ExportSummary {
  std::vector<MailboxCount> mailboxes;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped_keywords = 0;  // beyond the 26 a Maildir folder can name
};

// Writes every mailbox of one user's store as a Maildir++ tree (the layout Dovecot, mutt and
// mbsync read): INBOX in DIR/{cur,new,tmp}, "A/B" in DIR/.A.B (with a "maildirfolder" file).
// Each message becomes cur/"<internaldate>.<uid>_<uidvalidity>.popbridge:2,<flags>", written
// to tmp/ with INTERNALDATE as its mtime; every 500 messages or 64 MB one syncfs() makes them
// durable and they are renamed into cur/ (a crash leaves no partial file in cur/). Bodies are
// copied byte for byte (what FETCH BODY[] returns). Keywords get letters 'a'.. per folder in its
// dovecot-keywords file. A mailbox whose name has a '.' (the Maildir++ separator) is refused
// before anything is written. Borrows the store and the meter; use from one thread.
class Exporter {
 public:
  Exporter(store::UserStore& store, ProgressMeter& progress) : store_(store), progress_(progress) {}

  Result<void> run(const std::filesystem::path& dir, ExistingDirectory existing);
  const ExportSummary& summary() const { return summary_; }

 private:
  Result<void> exportMailbox(const store::MailboxInfo& mailbox,
                             const std::filesystem::path& folder);

  store::UserStore& store_;
  ProgressMeter& progress_;
  ExportSummary summary_;
};

// Totals of the store for the progress meter: messages and bytes of every mailbox.
struct StoreTotals {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};
Result<StoreTotals> storeTotals(store::UserStore& store);

}  // namespace popbridge::proxy::archive
