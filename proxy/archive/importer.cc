#include "proxy/archive/importer.h"

#include <algorithm>
#include <array>
#include <optional>
#include <system_error>
#include <utility>

#include "protocols/mailfile/date.h"
#include "protocols/mailfile/maildir.h"
#include "proxy/archive/files.h"
#include "store/names.h"

namespace popbridge::proxy::archive {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kReadChunk = 256 * 1024;

bool isDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool isMaildirFolder(const fs::path& path) {
  return isDirectory(path / "cur") || isDirectory(path / "new");
}

// Entries of a directory sorted by name; hidden ones included.
Result<std::vector<fs::directory_entry>> sortedEntries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(*it);
  }
  if (ec) return fail(ArchiveError{"read directory " + dir.string() + ": " + ec.message()});
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  return out;
}

// Whether the file starts (after empty lines) with "From ": the one sure sign of an mbox.
bool looksLikeMbox(const fs::path& path) {
  auto file = openInput(path);
  if (!file) return false;
  std::array<char, 512> head{};
  auto n = readSome(file->fd, head, path);
  if (!n) return false;
  std::string_view text(head.data(), *n);
  while (!text.empty() && (text.front() == '\n' || text.front() == '\r')) text.remove_prefix(1);
  return text.substr(0, 5) == "From ";
}

std::string join(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  return std::string(parent) + "/" + std::string(child);
}

Result<std::string> checkedName(const std::string& name, const fs::path& source) {
  auto canonical = store::canonicalMailboxName(name);
  if (!canonical) {
    return fail(ArchiveError{"cannot import " + source.string() + " into mailbox \"" + name +
                             "\": " + canonical.error().message});
  }
  return *canonical;
}

Result<void> planMaildir(const fs::path& root, std::string_view into, ImportPlan& plan) {
  const std::string root_mailbox = into.empty() ? "INBOX" : std::string(into);
  std::vector<std::pair<fs::path, std::string>> folders;
  if (isMaildirFolder(root)) folders.emplace_back(root, root_mailbox);
  auto entries = sortedEntries(root);
  if (!entries) return fail(entries.error());
  for (const fs::directory_entry& entry : *entries) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 2 || name.front() != '.' || !isDirectory(entry.path())) continue;
    if (!isMaildirFolder(entry.path())) {
      plan.warnings.push_back("skipped " + entry.path().string() + ": no cur/ or new/ in it");
      continue;
    }
    auto mailbox = mailfile::folderToMailbox(name);
    if (!mailbox) {
      plan.warnings.push_back("skipped " + entry.path().string() + ": " + mailbox.error().message);
      continue;
    }
    folders.emplace_back(entry.path(), join(into, *mailbox));
  }
  for (auto& [path, mailbox] : folders) {
    auto name = checkedName(mailbox, path);
    if (!name) return fail(name.error());
    for (const char* sub : {"new", "cur"}) {
      if (!isDirectory(path / sub)) continue;
      auto files = sortedEntries(path / sub);
      if (!files) return fail(files.error());
      for (const fs::directory_entry& file : *files) {
        std::error_code ec;
        if (file.path().filename().string().front() == '.' || !file.is_regular_file(ec)) continue;
        ++plan.maildir_messages;
        plan.total_bytes += file.file_size(ec);
      }
    }
    plan.sources.push_back(ImportSource{SourceKind::MaildirFolder, path, *name});
  }
  return {};
}

Result<void> planMboxFile(const fs::path& path, const std::string& mailbox, ImportPlan& plan) {
  auto name = checkedName(mailbox, path);
  if (!name) return fail(name.error());
  std::error_code ec;
  plan.total_bytes += fs::file_size(path, ec);
  plan.has_mbox = true;
  plan.sources.push_back(ImportSource{SourceKind::Mbox, path, *name});
  return {};
}

// A directory of mbox files (and Thunderbird's "Name.sbd" subfolder directories).
Result<void> planMboxDirectory(const fs::path& dir, const std::string& parent, ImportPlan& plan,
                               int depth) {
  if (depth > 32) return fail(ArchiveError{"directories nested too deep at " + dir.string()});
  auto entries = sortedEntries(dir);
  if (!entries) return fail(entries.error());
  for (const fs::directory_entry& entry : *entries) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.') continue;
    std::error_code ec;
    if (entry.is_directory(ec)) {
      if (name.size() > 4 && name.ends_with(".sbd")) {
        auto done = planMboxDirectory(entry.path(), join(parent, name.substr(0, name.size() - 4)),
                                      plan, depth + 1);
        if (!done) return done;
      } else {
        plan.warnings.push_back("skipped directory " + entry.path().string());
      }
      continue;
    }
    if (!entry.is_regular_file(ec) || name.ends_with(".msf")) continue;
    if (!looksLikeMbox(entry.path())) {
      plan.warnings.push_back("skipped " + entry.path().string() +
                              ": not an mbox (does not begin with \"From \")");
      continue;
    }
    const std::string stem = name.ends_with(".mbox") ? name.substr(0, name.size() - 5) : name;
    auto done = planMboxFile(entry.path(), join(parent, stem), plan);
    if (!done) return done;
  }
  return {};
}

}  // namespace

Result<ImportPlan> planImport(const fs::path& path, std::string_view into) {
  ImportPlan plan;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return fail(ArchiveError{path.string() + ": no such file or directory"});
  }
  if (fs::is_regular_file(status)) {
    auto done = planMboxFile(path, into.empty() ? "INBOX" : std::string(into), plan);
    if (!done) return fail(done.error());
    return plan;
  }
  if (!fs::is_directory(status)) {
    return fail(ArchiveError{path.string() + ": neither a file nor a directory"});
  }
  bool maildir = isMaildirFolder(path);
  if (!maildir) {
    auto entries = sortedEntries(path);
    if (!entries) return fail(entries.error());
    for (const fs::directory_entry& entry : *entries) {
      const std::string name = entry.path().filename().string();
      maildir = maildir || (name.size() > 1 && name.front() == '.' && name != ".." &&
                            isMaildirFolder(entry.path()));
    }
  }
  auto done =
      maildir ? planMaildir(path, into, plan) : planMboxDirectory(path, std::string(into), plan, 0);
  if (!done) return fail(done.error());
  if (plan.sources.empty()) {
    return fail(ArchiveError{path.string() + ": no mbox file or Maildir folder found"});
  }
  return plan;
}

Result<void> Importer::run(const ImportPlan& plan) {
  for (const ImportSource& source : plan.sources) {
    if (auto opened = openMailbox(source.mailbox); !opened) return opened;
    auto done = source.kind == SourceKind::Mbox ? importMbox(source) : importMaildir(source);
    if (done) done = flush();
    if (!done) return done;
    const MailboxCount& count = summary_.mailboxes.back();
    progress_.line(count.mailbox + ": " + std::to_string(count.messages) + " messages, " +
                   formatBytes(count.bytes) + (count.created ? " (new mailbox)" : "") +
                   (count.already_there > 0
                        ? " (" + std::to_string(count.already_there) + " already there, skipped)"
                        : "") +
                   " from " + source.path.string());
  }
  return {};
}

Result<void> Importer::openMailbox(const std::string& name) {
  MailboxCount count;
  auto existing = store_.mailbox(name);
  if (!existing && existing.error().code == store::ErrorCode::NotFound) {
    existing = store_.createMailbox(name);
    count.created = true;
  }
  if (!existing) {
    return fail(ArchiveError{"mailbox \"" + name + "\": " + existing.error().message});
  }
  count.mailbox = existing->name;
  mailbox_ = existing->name;
  mailbox_id_ = existing->id;
  unmatched_by_size_.clear();
  if (!count.created) {
    auto messages = store_.listMessages(existing->id);
    if (!messages) {
      return fail(ArchiveError{"mailbox \"" + name + "\": " + messages.error().message});
    }
    for (const store::MessageInfo& m : *messages) unmatched_by_size_[m.size].push_back(m.uid);
  }
  summary_.mailboxes.push_back(std::move(count));
  return {};
}

store::Flags Importer::storeFlags(const mailfile::MailFlags& flags) {
  store::Flags out;
  struct Pair {
    std::uint32_t from;
    std::uint32_t to;
  };
  static constexpr std::array<Pair, 5> kMap = {{{mailfile::kSeen, store::kSeen},
                                                {mailfile::kAnswered, store::kAnswered},
                                                {mailfile::kFlagged, store::kFlagged},
                                                {mailfile::kDeleted, store::kDeleted},
                                                {mailfile::kDraft, store::kDraft}}};
  for (const Pair& pair : kMap) {
    if ((flags.system & pair.from) != 0) out.system |= pair.to;
  }
  for (const std::string& keyword : flags.keywords) {
    if (store::validateKeyword(keyword)) {
      out.keywords.push_back(keyword);
    } else {
      ++summary_.skipped_keywords;
    }
  }
  std::sort(out.keywords.begin(), out.keywords.end());
  out.keywords.erase(std::unique(out.keywords.begin(), out.keywords.end()), out.keywords.end());
  return out;
}

Result<void> Importer::importMbox(const ImportSource& source) {
  auto file = openInput(source.path);
  if (!file) return fail(file.error());
  mailfile::MboxSplitter splitter(settings_.mbox_format);
  std::vector<mailfile::MboxEvent> events;
  std::vector<char> buffer(kReadChunk);
  std::optional<store::StagedMessage> staged;
  mailfile::MboxBegin begin;

  auto handle = [&]() -> Result<void> {
    for (mailfile::MboxEvent& event : events) {
      if (auto* b = std::get_if<mailfile::MboxBegin>(&event)) {
        begin = std::move(*b);
        auto made = store_.stageMessage();
        if (!made) return fail(ArchiveError{"store: " + made.error().message});
        staged.emplace(std::move(*made));
      } else if (auto* data = std::get_if<mailfile::MboxData>(&event)) {
        if (auto wrote = staged->write(data->bytes); !wrote) {
          return fail(ArchiveError{"store: " + wrote.error().message});
        }
      } else {
        auto& end = std::get<mailfile::MboxEnd>(event);
        // INTERNALDATE: the envelope's date, else the Date: header, else the file's mtime.
        std::optional<mailfile::MailTime> when = begin.envelope;
        if (!when && end.date) when = mailfile::parseRfc5322Date(*end.date);
        if (!when) when = mailfile::MailTime{file->mtime, 0};
        store::NewMessage message{std::move(*staged), when->seconds, when->tz_offset_minutes,
                                  storeFlags(end.flags), std::nullopt};
        staged.reset();
        if (auto added = add(std::move(message)); !added) return added;
      }
    }
    events.clear();
    return {};
  };

  while (true) {
    auto n = readSome(file->fd, buffer, source.path);
    if (!n) return fail(n.error());
    popbridge::Result<void, mailfile::MboxError> split;
    if (*n == 0) {
      split = splitter.finish(events);
    } else {
      split = splitter.feed(std::string_view(buffer.data(), *n), events);
    }
    if (!split) return fail(ArchiveError{source.path.string() + ": " + split.error().message});
    if (auto handled = handle(); !handled) return handled;
    progress_.add(0, *n);
    if (*n == 0) break;
  }
  return {};
}

Result<void> Importer::importMaildir(const ImportSource& source) {
  mailfile::KeywordLetters letters;
  if (auto keywords = openInput(source.path / "dovecot-keywords")) {
    std::string text;
    std::vector<char> buffer(4096);
    while (text.size() < (1u << 20)) {
      auto n = readSome(keywords->fd, buffer, source.path / "dovecot-keywords");
      if (!n || *n == 0) break;
      text.append(buffer.data(), *n);
    }
    letters = mailfile::parseDovecotKeywords(text);
  }

  std::vector<fs::path> files;
  for (const char* sub : {"new", "cur"}) {
    if (!isDirectory(source.path / sub)) continue;
    auto entries = sortedEntries(source.path / sub);
    if (!entries) return fail(entries.error());
    for (const fs::directory_entry& entry : *entries) {
      std::error_code ec;
      if (entry.path().filename().string().front() == '.' || !entry.is_regular_file(ec)) continue;
      files.push_back(entry.path());
    }
  }
  // Delivery order across new/ and cur/: the usual names start with the delivery time.
  std::stable_sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return mailfile::maildirNameLess(a.filename().string(), b.filename().string());
  });

  std::vector<char> buffer(kReadChunk);
  std::string converted;
  for (const fs::path& path : files) {
    auto file = openInput(path);
    if (!file) return fail(file.error());
    auto staged = store_.stageMessage();
    if (!staged) return fail(ArchiveError{"store: " + staged.error().message});
    mailfile::CrlfWriter crlf;
    while (true) {
      auto n = readSome(file->fd, buffer, path);
      if (!n) return fail(n.error());
      if (*n == 0) break;
      converted.clear();
      crlf.feed(std::string_view(buffer.data(), *n), converted);
      if (auto wrote = staged->write(converted); !wrote) {
        return fail(ArchiveError{"store: " + wrote.error().message});
      }
    }
    const mailfile::MaildirName name = mailfile::parseMaildirName(path.filename().string());
    mailfile::MailFlags flags{name.system, {}};
    for (char letter : name.keyword_letters) {
      const auto& keyword = letters[static_cast<std::size_t>(letter - 'a')];
      if (keyword) flags.keywords.push_back(*keyword);
    }
    store::NewMessage message{std::move(*staged), file->mtime, 0, storeFlags(flags), std::nullopt};
    if (auto added = add(std::move(message)); !added) return added;
    progress_.add(0, file->size);
  }
  return {};
}

Result<bool> Importer::alreadyThere(store::StagedMessage& body) {
  auto bucket = unmatched_by_size_.find(body.size());
  if (bucket == unmatched_by_size_.end()) return false;
  std::vector<std::uint32_t>& uids = bucket->second;
  for (auto uid = uids.begin(); uid != uids.end(); ++uid) {
    auto stored = store_.openBody(mailbox_id_, *uid);
    if (!stored) {
      if (stored.error().code == store::ErrorCode::NotFound) continue;  // expunged meanwhile
      return fail(ArchiveError{"store: " + stored.error().message});
    }
    auto same = body.sameBytesAs(*stored);
    if (!same) return fail(ArchiveError{"store: " + same.error().message});
    if (*same) {
      uids.erase(uid);
      return true;
    }
  }
  return false;
}

Result<void> Importer::add(store::NewMessage message) {
  if (!unmatched_by_size_.empty()) {
    auto there = alreadyThere(message.body);
    if (!there) return fail(there.error());
    if (*there) {
      ++summary_.mailboxes.back().already_there;
      ++summary_.already_there;
      progress_.add(1, 0);
      return {};  // the staged file goes with `message`
    }
  }
  batch_bytes_ += message.body.size();
  batch_.push_back(std::move(message));
  progress_.add(1, 0);
  if (batch_.size() >= settings_.batch_messages || batch_bytes_ >= settings_.batch_bytes) {
    return flush();
  }
  return {};
}

Result<void> Importer::flush() {
  if (batch_.empty()) return {};
  const std::size_t count = batch_.size();
  const std::uint64_t bytes = batch_bytes_;
  batch_bytes_ = 0;
  auto appended = store_.append(mailbox_, std::exchange(batch_, {}));
  if (!appended) {
    return fail(ArchiveError{"append to \"" + mailbox_ + "\": " + appended.error().message});
  }
  MailboxCount& current = summary_.mailboxes.back();
  current.messages += count;
  current.bytes += bytes;
  summary_.messages += count;
  summary_.bytes += bytes;
  return {};
}

}  // namespace popbridge::proxy::archive
