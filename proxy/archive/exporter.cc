#include "proxy/archive/exporter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <system_error>

#include "protocols/mailfile/maildir.h"
#include "proxy/archive/files.h"

namespace popbridge::proxy::archive {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kCopyChunk = 256 * 1024;
constexpr std::size_t kPublishMessages = 500;
constexpr std::uint64_t kPublishBytes = std::uint64_t{64} << 20;

ArchiveError storeError(const std::string& what, const store::Error& error) {
  return ArchiveError{what + ": " + error.message};
}

std::uint32_t maildirSystemFlags(std::uint32_t system) {
  std::uint32_t out = 0;
  if ((system & store::kSeen) != 0) out |= mailfile::kSeen;
  if ((system & store::kAnswered) != 0) out |= mailfile::kAnswered;
  if ((system & store::kFlagged) != 0) out |= mailfile::kFlagged;
  if ((system & store::kDeleted) != 0) out |= mailfile::kDeleted;
  if ((system & store::kDraft) != 0) out |= mailfile::kDraft;
  return out;
}

Result<void> writeSmallFile(const fs::path& path, std::string_view text) {
  const Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail(fileError("create", path, errno));
  if (auto wrote = writeAll(fd, text, path); !wrote) return wrote;
  if (::fsync(fd.get()) != 0) return fail(fileError("fsync", path, errno));
  return {};
}

}  // namespace

Result<StoreTotals> storeTotals(store::UserStore& store) {
  auto mailboxes = store.listMailboxes();
  if (!mailboxes) return fail(storeError("list mailboxes", mailboxes.error()));
  StoreTotals totals;
  for (const store::MailboxInfo& mailbox : *mailboxes) {
    totals.messages += mailbox.messages;
    totals.bytes += mailbox.total_bytes;
  }
  return totals;
}

Result<void> Exporter::run(const fs::path& dir, ExistingDirectory existing) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return fail(ArchiveError{dir.string() + " exists and is not a directory"});
    }
    if (existing == ExistingDirectory::Refuse && !fs::is_empty(dir, ec)) {
      return fail(ArchiveError{dir.string() +
                               " is not empty: export into a new or empty directory, or pass "
                               "--force to write into it anyway"});
    }
  } else if (!fs::create_directories(dir, ec) || ec) {
    return fail(ArchiveError{"create " + dir.string() + ": " + ec.message()});
  }

  auto mailboxes = store_.listMailboxes();
  if (!mailboxes) return fail(storeError("list mailboxes", mailboxes.error()));
  // Every name first: refuse before writing anything.
  std::vector<std::pair<store::MailboxInfo, fs::path>> plan;
  for (const store::MailboxInfo& mailbox : *mailboxes) {
    auto folder = mailfile::mailboxToFolder(mailbox.name);
    if (!folder) return fail(ArchiveError{folder.error().message});
    plan.emplace_back(mailbox, folder->empty() ? dir : dir / *folder);
  }
  for (const auto& [mailbox, folder] : plan) {
    if (auto done = exportMailbox(mailbox, folder); !done) return done;
    const MailboxCount& count = summary_.mailboxes.back();
    progress_.line(count.mailbox + ": " + std::to_string(count.messages) + " messages, " +
                   formatBytes(count.bytes) + " -> " + folder.string());
  }
  return fsyncDirectory(dir);
}

Result<void> Exporter::exportMailbox(const store::MailboxInfo& mailbox, const fs::path& folder) {
  for (const fs::path& path : {folder, folder / "cur", folder / "new", folder / "tmp"}) {
    if (auto made = makeDirectory(path); !made) return made;
  }
  if (mailbox.name != "INBOX") {
    // Maildir++: marks a folder below the root (Dovecot and Courier create it too).
    if (auto made = writeSmallFile(folder / "maildirfolder", ""); !made) return made;
  }
  summary_.mailboxes.push_back(MailboxCount{mailbox.name, 0, 0, false});

  auto messages = store_.listMessages(mailbox.id);
  if (!messages) return fail(storeError("list " + mailbox.name, messages.error()));

  // Keyword letters for this folder: 'a' for the first keyword in name order, and so on.
  std::map<std::string, char> letter_of;
  for (const store::MessageInfo& message : *messages) {
    for (const std::string& keyword : message.flags.keywords) letter_of.emplace(keyword, 0);
  }
  mailfile::KeywordLetters letters;
  std::size_t next = 0;
  for (auto& [keyword, letter] : letter_of) {
    if (next < letters.size()) {
      letters[next] = keyword;
      letter = static_cast<char>('a' + next);
      ++next;
    }
  }
  if (next > 0) {
    const std::string text = mailfile::formatDovecotKeywords(letters);
    if (auto wrote = writeSmallFile(folder / "dovecot-keywords", text); !wrote) return wrote;
  }

  // Files wait in tmp/ until one syncfs() makes a whole group durable, then move into cur/:
  // one sync per group instead of one fsync per message (which took two thirds of the time),
  // and a crash leaves nothing half-written in cur/.
  std::vector<std::string> pending;
  std::uint64_t pending_bytes = 0;
  auto publish = [&]() -> Result<void> {
    if (pending.empty()) return {};
    const fs::path tmp_dir = folder / "tmp";
    const Fd dir(::open(tmp_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) return fail(fileError("open", tmp_dir, errno));
    if (::syncfs(dir.get()) != 0) return fail(fileError("syncfs", tmp_dir, errno));
    for (const std::string& name : pending) {
      const fs::path target = folder / "cur" / name;
      if (::rename((tmp_dir / name).c_str(), target.c_str()) != 0) {
        return fail(fileError("rename into", target, errno));
      }
    }
    pending.clear();
    pending_bytes = 0;
    return {};
  };

  std::vector<char> buffer(kCopyChunk);
  for (const store::MessageInfo& message : *messages) {
    std::string keyword_letters;
    for (const std::string& keyword : message.flags.keywords) {
      const char letter = letter_of[keyword];
      if (letter != 0) {
        keyword_letters += letter;
      } else {
        ++summary_.dropped_keywords;
      }
    }
    const std::string name =
        mailfile::exportFileName(message.internaldate, message.uid, mailbox.uidvalidity,
                                 maildirSystemFlags(message.flags.system), keyword_letters);
    const fs::path tmp = folder / "tmp" / name;

    auto body = store_.openBody(mailbox.id, message.uid);
    if (!body) {
      return fail(storeError(mailbox.name + " uid " + std::to_string(message.uid), body.error()));
    }
    const Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (out.get() < 0) return fail(fileError("create", tmp, errno));
    std::uint64_t offset = 0;
    while (true) {
      auto n = body->read(offset, buffer);
      if (!n) {
        return fail(storeError(mailbox.name + " uid " + std::to_string(message.uid), n.error()));
      }
      if (*n == 0) break;
      if (auto wrote = writeAll(out, std::string_view(buffer.data(), *n), tmp); !wrote) {
        return wrote;
      }
      offset += *n;
    }
    // The file's mtime is the message's INTERNALDATE (what Maildir readers take for it).
    const timespec times[2] = {{static_cast<time_t>(message.internaldate), 0},
                               {static_cast<time_t>(message.internaldate), 0}};
    if (::futimens(out.get(), times) != 0) return fail(fileError("set times of", tmp, errno));
    pending.push_back(name);
    pending_bytes += offset;
    if (pending.size() >= kPublishMessages || pending_bytes >= kPublishBytes) {
      if (auto published = publish(); !published) return published;
    }
    MailboxCount& count = summary_.mailboxes.back();
    ++count.messages;
    count.bytes += offset;
    ++summary_.messages;
    summary_.bytes += offset;
    progress_.add(1, offset);
  }
  if (auto published = publish(); !published) return published;
  if (auto synced = fsyncDirectory(folder / "cur"); !synced) return synced;
  return fsyncDirectory(folder);
}

}  // namespace popbridge::proxy::archive
