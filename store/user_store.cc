#include "store/user_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <functional>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "protocols/imap/sort_keys.h"
#include "protocols/mime/parser.h"
#include "protocols/mime/serialize.h"
#include "store/names.h"
#include "store/search_text.h"
#include "store/sqlite_db.h"

namespace popbridge::store {
namespace {

using sql::Database;
using sql::Statement;
using sql::Transaction;

// PRAGMA user_version of the schema below. A later version migrates forward in initialize(),
// keeping every mailbox id, UID, UIDVALIDITY, modseq and flag.
constexpr std::int64_t kSchemaVersion = 9;

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
-- AUTOINCREMENT: a deleted mailbox's id is never handed to a new one, so an id the daemon still
-- holds can only ever name the mailbox it was given for.
CREATE TABLE mailboxes(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL
);
CREATE TABLE messages(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  header_size INTEGER NOT NULL,
  internaldate INTEGER NOT NULL,
  tz_offset INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_blob ON messages(blob);
CREATE TABLE expunged(
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
CREATE TABLE ledger(
  account TEXT NOT NULL,
  uidl TEXT NOT NULL,
  state INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,
  uid INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(account, uidl)
) WITHOUT ROWID;
)sql";

// Version 2: the MIME structure of each body, parsed once at ingest (protocols/mime, serialised).
// Keyed by blob, so copies share it. Bodies stored before version 2 have no row; their structure
// is parsed from the blob when asked for.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE mime(
  blob TEXT PRIMARY KEY,
  structure BLOB NOT NULL
) WITHOUT ROWID;
)sql";

// Version 3: the full-text index for SEARCH TEXT and BODY (store/search_text.h). One document
// per blob, so copies share it; search_docs maps a blob to its document's rowid. The trigram
// tokenizer (SQLite 3.34+) indexes every 3-character substring, case-folded, so `LIKE '%needle%'`
// finds its candidates in the index; detail=none keeps the index small (no positions), which is
// enough because SQLite checks LIKE on each candidate's stored text (see search.cc). A body
// whose text is too large to index has no document and is searched by extracting its text.
// Indexing is deferred: append() only lists a new blob in search_pending, and indexPending()
// later gives it a document (or, for text too large, just takes it off the list). A blob without
// a document is searched by extraction either way, so search is exact at every moment.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE search_docs(
  id INTEGER PRIMARY KEY,
  blob TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE search_text USING fts5(header, body, tokenize = 'trigram', detail = 'none');
CREATE TABLE search_pending(
  blob TEXT PRIMARY KEY
) WITHOUT ROWID;
)sql";

// Decoded text longer than this (header and body together) is not indexed.
constexpr std::size_t kMaxIndexedText = 8 * 1024 * 1024;
// One indexPending() transaction stops after this much decoded text (but indexes at least one
// body), so a write queued behind it never waits long.
constexpr std::size_t kMaxIndexBytesPerTransaction = 256 * 1024;

// Version 4: subscriptions, by name (RFC 3501 6.3.6: they may name a mailbox that does not
// exist), and each mailbox's RFC 6154 special-use attributes as SpecialUse bits. Written so that
// running it on a store that already has them changes nothing.
// Batches of at least this many bodies are made durable by one syncfs(2) instead of an fsync
// of each body and directory. Below it (an IMAP APPEND), syncfs would also write back whatever
// else is dirty on the file system for one message.
constexpr std::size_t kSyncfsMinBatch = 2;

constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE IF NOT EXISTS subscriptions(
  name TEXT PRIMARY KEY
) WITHOUT ROWID;
)sql";
constexpr std::string_view kSchemaV4Column =
    "ALTER TABLE mailboxes ADD COLUMN special_use INTEGER NOT NULL DEFAULT 0";

// Version 5: the user's quota usage (RFC 9208 5), one row, kept exact by triggers on messages so
// that every statement adding or removing a message row (including ON DELETE CASCADE from a
// deleted mailbox) updates it in its own transaction; no write path can forget it. The migration
// counts what is there. bytes is the sum of RFC822.SIZE, a copied body counting once per row.
// Written so that running it again (a version number set back) recounts and changes nothing else.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE IF NOT EXISTS quota_usage(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  bytes INTEGER NOT NULL,
  messages INTEGER NOT NULL
);
INSERT OR REPLACE INTO quota_usage(id, bytes, messages)
  SELECT 1, coalesce(sum(size), 0), count(*) FROM messages;
CREATE TRIGGER IF NOT EXISTS quota_usage_insert AFTER INSERT ON messages BEGIN
  UPDATE quota_usage SET bytes = bytes + new.size, messages = messages + 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS quota_usage_delete AFTER DELETE ON messages BEGIN
  UPDATE quota_usage SET bytes = bytes - old.size, messages = messages - 1 WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS quota_usage_update AFTER UPDATE OF size ON messages BEGIN
  UPDATE quota_usage SET bytes = bytes - old.size + new.size WHERE id = 1;
END;
)sql";

// Version 6: RFC 8474 object ids. Each mailbox gets a random MAILBOXID (MailboxInfo::object_id;
// the column is added before the version 4 step, which may create mailboxes, and filled here for
// rows that have none). threads maps each body to its THREADID; thread_refs maps every msg-id
// seen in a Message-ID, References or In-Reply-To field to the thread it was first seen in, so a
// later reply (or an earlier-stored child's parent) finds its thread. thread_refs keeps the ids
// of deleted messages on purpose: a late reply to a deleted message still joins its thread.
constexpr std::string_view kSchemaV6Column =
    "ALTER TABLE mailboxes ADD COLUMN object_id TEXT NOT NULL DEFAULT ''";
constexpr std::string_view kSchemaV6 = R"sql(
UPDATE mailboxes SET object_id = 'M' || lower(hex(randomblob(16))) WHERE object_id = '';
CREATE TABLE IF NOT EXISTS threads(
  blob TEXT PRIMARY KEY,
  thread TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS thread_refs(
  message_id TEXT PRIMARY KEY,
  thread TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 7: a second, small full-text index of whole words that proves matches where the
// trigram index only gives candidates (see search.cc). The same two columns of the same decoded
// text as search_text, under the same rowid (the document id), tokenized by FTS5's `ascii`
// tokenizer: a token is a maximal run of bytes that are not ASCII punctuation or space, ASCII
// letters folded to lowercase. A document holding the token "word" therefore holds the bytes
// "word" in some ASCII case, so its casemapped text (i;unicode-casemap leaves ASCII letters and
// digits as they are, uppercased) contains "WORD": the proof is exact for needles of ASCII
// letters and digits. detail=column tells the header from the body; contentless (the text is in
// search_text already), so a document is removed with FTS5's 'delete' command and the text it
// was indexed with, read back from search_text (SQLite 3.40 has no contentless_delete).
// Documents indexed before version 7 are listed in search_words_pending and added by
// indexPending() from their stored text; until then search checks them as before. Running the
// step again (a version number set back) starts the word index over from the stored text.
constexpr std::string_view kSchemaV7 = R"sql(
DROP TABLE IF EXISTS search_words;
DROP TABLE IF EXISTS search_words_pending;
CREATE VIRTUAL TABLE search_words USING fts5(header, body, content = '', tokenize = 'ascii',
                                             detail = 'column', columnsize = 0);
CREATE TABLE search_words_pending(
  id INTEGER PRIMARY KEY
);
INSERT INTO search_words_pending(id) SELECT id FROM search_docs;
)sql";
// Also in version 7: each message row names its body's document (search_docs.id, NULL while the
// body has none), so a search learns a row's document with the row instead of looking it up by
// blob name. Triggers keep it exact on every path that adds a message row or a document, or
// removes a document (only once no message refers to its blob).
constexpr std::string_view kSchemaV7Column = "ALTER TABLE messages ADD COLUMN doc INTEGER";
constexpr std::string_view kSchemaV7Docs = R"sql(
UPDATE messages SET doc = (SELECT id FROM search_docs d WHERE d.blob = messages.blob);
CREATE TRIGGER IF NOT EXISTS messages_doc AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM search_docs WHERE blob = new.blob) BEGIN
  UPDATE messages SET doc = (SELECT id FROM search_docs WHERE blob = new.blob)
    WHERE mailbox_id = new.mailbox_id AND uid = new.uid;
END;
CREATE TRIGGER IF NOT EXISTS search_docs_insert AFTER INSERT ON search_docs BEGIN
  UPDATE messages SET doc = new.id WHERE blob = new.blob;
END;
CREATE TRIGGER IF NOT EXISTS search_docs_delete AFTER DELETE ON search_docs BEGIN
  UPDATE messages SET doc = NULL WHERE blob = old.blob;
END;
)sql";

// Version 8: FETCH BINARY's decoded sizes (RFC 3516 4.2), recorded by the first BINARY or
// BINARY.SIZE of a part so that later ones skip decoding the part just to count it. Keyed by
// blob (copies share it; bodies never change) and part path, and by the decoder's version, so a
// popbridge whose decoding differs ignores rows an older one wrote. has_nul: whether the decoded
// part holds a NUL (it then goes out as a literal8). Rows go with their blob.
constexpr std::string_view kSchemaV8 = R"sql(
CREATE TABLE IF NOT EXISTS decoded_sizes(
  blob TEXT NOT NULL,
  part TEXT NOT NULL,
  decoder INTEGER NOT NULL,
  size INTEGER NOT NULL,
  has_nul INTEGER NOT NULL,
  PRIMARY KEY(blob, part, decoder)
) WITHOUT ROWID;
)sql";

// Version 9: documents waiting to leave the full-text index. An expunge (or a mailbox DELETE)
// that leaves a body unreferenced lists its document here instead of removing it: taking a
// document out of the contentless word index means tokenizing its text again, too slow for the
// expunge's transaction. indexPending() removes listed documents first. Until then nothing can
// match them: search maps documents to messages through messages.doc, and no message row names
// an unreferenced body (blob names are never reused).
constexpr std::string_view kSchemaV9 = R"sql(
CREATE TABLE IF NOT EXISTS search_forget(
  id INTEGER PRIMARY KEY
);
)sql";

// THREADID assignment reads at most this much of a header, follows at most this many msg-ids
// of it, and ignores msg-ids longer than kMaxThreadMessageId (none is that long in real mail).
constexpr std::size_t kMaxThreadHeaderBytes = StagedMessage::kHeaderCopyBytes;
constexpr std::size_t kMaxThreadRefs = 64;
constexpr std::size_t kMaxThreadMessageId = 998;

// The mailboxes every user has from the start (RFC 6154 2), subscribed like INBOX.
struct DefaultMailbox {
  std::string_view name;
  std::uint32_t special_use;
};
constexpr std::array<DefaultMailbox, 5> kDefaultMailboxes = {{
    {"Archive", kUseArchive},
    {"Drafts", kUseDrafts},
    {"Junk", kUseJunk},
    {"Sent", kUseSent},
    {"Trash", kUseTrash},
}};

constexpr std::string_view kMailboxColumns =
    "SELECT b.id, b.name, b.uidvalidity, b.uidnext, b.highestmodseq, count(m.uid), "
    "coalesce(sum((m.flags & 1) = 0), 0), coalesce(sum(m.size), 0), b.special_use, "
    "coalesce(sum((m.flags & 8) != 0), 0), b.object_id "
    "FROM mailboxes b LEFT JOIN messages m ON m.mailbox_id = b.id ";

constexpr std::string_view kMessageColumns =
    "SELECT uid, flags, keywords, size, header_size, internaldate, tz_offset, modseq "
    "FROM messages ";

Error notFound(std::string message) { return Error{ErrorCode::NotFound, std::move(message)}; }
Error internal(std::string message) { return Error{ErrorCode::Internal, std::move(message)}; }

std::int64_t nowSeconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Keywords are case-insensitive (RFC 9051 2.3.2 treats flag names case-insensitively); the
// canonical list is sorted and unique ignoring case, keeping the first spelling seen.
Result<std::vector<std::string>> canonicalKeywords(const std::vector<std::string>& keywords) {
  std::vector<std::pair<std::string, std::string>> keyed;
  keyed.reserve(keywords.size());
  for (const auto& keyword : keywords) {
    if (auto valid = validateKeyword(keyword); !valid) return fail(valid.error());
    keyed.emplace_back(lowered(keyword), keyword);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  std::string last_key;
  for (auto& [key, keyword] : keyed) {
    if (!out.empty() && key == last_key) continue;
    last_key = key;
    out.push_back(std::move(keyword));
  }
  return out;
}

Result<Flags> canonicalFlags(const Flags& flags) {
  if ((flags.system & ~kAllSystemFlags) != 0) {
    return fail(Error{ErrorCode::InvalidName, "unknown system flag bits"});
  }
  auto keywords = canonicalKeywords(flags.keywords);
  if (!keywords) return fail(keywords.error());
  return Flags{flags.system, std::move(*keywords)};
}

// Keywords are atoms (no spaces), so one space-separated column holds them.
std::string joinKeywords(const std::vector<std::string>& keywords) {
  std::string out;
  for (const auto& keyword : keywords) {
    if (!out.empty()) out += ' ';
    out += keyword;
  }
  return out;
}

std::vector<std::string> splitKeywords(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    out.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

MailboxInfo mailboxFromRow(const Statement& row) {
  return MailboxInfo{
      .id = row.int64(0),
      .name = row.text(1),
      .uidvalidity = static_cast<std::uint32_t>(row.int64(2)),
      .uidnext = static_cast<std::uint32_t>(row.int64(3)),
      .highestmodseq = static_cast<std::uint64_t>(row.int64(4)),
      .messages = static_cast<std::uint32_t>(row.int64(5)),
      .unseen = static_cast<std::uint32_t>(row.int64(6)),
      .total_bytes = static_cast<std::uint64_t>(row.int64(7)),
      .special_use = static_cast<std::uint32_t>(row.int64(8)),
      .deleted = static_cast<std::uint32_t>(row.int64(9)),
      .object_id = row.text(10),
  };
}

MessageInfo messageFromRow(const Statement& row) {
  return MessageInfo{
      .uid = static_cast<std::uint32_t>(row.int64(0)),
      .flags = Flags{static_cast<std::uint32_t>(row.int64(1)), splitKeywords(row.text(2))},
      .size = static_cast<std::uint64_t>(row.int64(3)),
      .header_size = static_cast<std::uint64_t>(row.int64(4)),
      .internaldate = row.int64(5),
      .tz_offset_minutes = static_cast<int>(row.int64(6)),
      .modseq = static_cast<std::uint64_t>(row.int64(7)),
  };
}

Result<std::optional<MailboxInfo>> queryMailbox(Database& db, std::string_view where,
                                                const std::function<void(Statement&)>& bind) {
  std::string query(kMailboxColumns);
  query += where;
  query += " GROUP BY b.id";
  auto stmt = db.prepare(query);
  if (!stmt) return fail(stmt.error());
  bind(*stmt);
  auto row = stmt->step();
  if (!row) return fail(row.error());
  if (!*row) return std::optional<MailboxInfo>();
  return std::optional<MailboxInfo>(mailboxFromRow(*stmt));
}

struct MailboxState {
  std::int64_t id = 0;
  std::string name;
  std::uint32_t uidnext = 0;
  std::uint64_t highestmodseq = 0;
};

// The mailbox row by id, inside the caller's transaction. NotFound if absent.
Result<MailboxState> mailboxState(Database& db, std::int64_t mailbox_id) {
  auto stmt = db.prepare("SELECT name, uidnext, highestmodseq FROM mailboxes WHERE id = ?");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, mailbox_id);
  auto row = stmt->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(notFound("no mailbox with id " + std::to_string(mailbox_id)));
  return MailboxState{mailbox_id, stmt->text(0), static_cast<std::uint32_t>(stmt->int64(1)),
                      static_cast<std::uint64_t>(stmt->int64(2))};
}

// The mailbox row by canonical name, inside the caller's transaction. NotFound if absent.
Result<MailboxState> mailboxStateByName(Database& db, const std::string& name) {
  auto stmt = db.prepare("SELECT id, uidnext, highestmodseq FROM mailboxes WHERE name = ?");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, name);
  auto row = stmt->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(notFound("no mailbox " + name));
  return MailboxState{stmt->int64(0), name, static_cast<std::uint32_t>(stmt->int64(1)),
                      static_cast<std::uint64_t>(stmt->int64(2))};
}

Result<void> setHighestModseq(Database& db, std::int64_t mailbox_id, std::uint64_t modseq) {
  auto stmt = db.prepare("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, static_cast<std::int64_t>(modseq)).bind(2, mailbox_id);
  return stmt->run();
}

// Allocates a UIDVALIDITY inside the caller's write transaction: the clock, or one more than the
// last one handed out if the clock is behind, so a re-created mailbox always gets a larger value
// (RFC 9051 2.3.1.1).
Result<std::uint32_t> nextUidValidity(Database& db) {
  auto select = db.prepare("SELECT value FROM meta WHERE key = 'last_uidvalidity'");
  if (!select) return fail(select.error());
  auto row = select->step();
  if (!row) return fail(row.error());
  const std::int64_t last = *row ? select->int64(0) : 0;
  const std::int64_t next = std::max(last + 1, nowSeconds());
  if (next > std::numeric_limits<std::uint32_t>::max()) {
    return fail(internal("UIDVALIDITY space exhausted"));
  }
  auto update = db.prepare(
      "INSERT INTO meta(key, value) VALUES('last_uidvalidity', ?) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!update) return fail(update.error());
  update->bind(1, next);
  if (auto done = update->run(); !done) return fail(done.error());
  return static_cast<std::uint32_t>(next);
}

// Inserts a mailbox row inside the caller's write transaction. AlreadyExists if taken.
Result<void> insertMailbox(Database& db, const std::string& name) {
  auto exists = db.prepare("SELECT 1 FROM mailboxes WHERE name = ?");
  if (!exists) return fail(exists.error());
  exists->bind(1, name);
  auto row = exists->step();
  if (!row) return fail(row.error());
  if (*row) return fail(Error{ErrorCode::AlreadyExists, "mailbox exists: " + name});
  auto uidvalidity = nextUidValidity(db);
  if (!uidvalidity) return fail(uidvalidity.error());
  // HIGHESTMODSEQ starts at 1: RFC 7162 3.1.1 requires a non-zero value.
  // RFC 8474 4: a fresh random MAILBOXID, so a mailbox created again under an old name (or in
  // another user's store) never shows an id seen before.
  auto insert = db.prepare(
      "INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq, object_id) "
      "VALUES(?, ?, 1, 1, 'M' || lower(hex(randomblob(16))))");
  if (!insert) return fail(insert.error());
  insert->bind(1, name).bind(2, static_cast<std::int64_t>(*uidvalidity));
  return insert->run();
}

Result<void> setSpecialUse(Database& db, const std::string& name, std::uint32_t special_use) {
  auto update = db.prepare("UPDATE mailboxes SET special_use = special_use | ? WHERE name = ?");
  if (!update) return fail(update.error());
  update->bind(1, static_cast<std::int64_t>(special_use)).bind(2, name);
  return update->run();
}

Result<void> insertSubscription(Database& db, std::string_view name) {
  auto insert = db.prepare("INSERT OR IGNORE INTO subscriptions(name) VALUES(?)");
  if (!insert) return fail(insert.error());
  insert->bind(1, name);
  return insert->run();
}

// The schema version 4 step, inside the migration's transaction. Existing mailboxes become
// subscribed (before version 4 LSUB listed every mailbox, so clients keep what they saw), and
// the default mailboxes are created where no mailbox of that name exists; one that exists gets
// the attribute. Every id, UID and UIDVALIDITY stays as it was.
Result<void> migrateToV4(Database& db) {
  auto has_column =
      db.prepare("SELECT 1 FROM pragma_table_info('mailboxes') WHERE name = 'special_use'");
  if (!has_column) return fail(has_column.error());
  auto column = has_column->step();
  if (!column) return fail(column.error());
  has_column = Statement();
  if (!*column) {
    if (auto added = db.exec(kSchemaV4Column); !added) return added;
  }
  if (auto created = db.exec(kSchemaV4); !created) return created;
  if (auto subscribed =
          db.exec("INSERT OR IGNORE INTO subscriptions(name) SELECT name FROM mailboxes");
      !subscribed) {
    return subscribed;
  }
  if (auto inbox = insertSubscription(db, "INBOX"); !inbox) return inbox;
  for (const DefaultMailbox& box : kDefaultMailboxes) {
    const std::string name(box.name);
    auto exists = mailboxStateByName(db, name);
    if (!exists) {
      if (exists.error().code != ErrorCode::NotFound) return fail(exists.error());
      if (auto inserted = insertMailbox(db, name); !inserted) return inserted;
      if (auto subscribed = insertSubscription(db, name); !subscribed) return subscribed;
    }
    if (auto set = setSpecialUse(db, name, box.special_use); !set) return set;
  }
  return {};
}

// Adds mailboxes.object_id unless it is there (schema version 6), so that every later step can
// create mailboxes with one.
// Runs `alter` (an ALTER TABLE ... ADD COLUMN) unless `table` has `column` already.
Result<void> addColumn(Database& db, std::string_view table, std::string_view column,
                       std::string_view alter) {
  auto has_column = db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
  if (!has_column) return fail(has_column.error());
  has_column->bind(1, std::string(table)).bind(2, std::string(column));
  auto found = has_column->step();
  if (!found) return fail(found.error());
  has_column = Statement();
  if (*found) return {};
  return db.exec(alter);
}

Result<void> addObjectIdColumn(Database& db) {
  return addColumn(db, "mailboxes", "object_id", kSchemaV6Column);
}

// Up to `max_bytes` of the header of the blob at `path` (`header_size` long); nullopt if the
// file cannot be read in full.
std::optional<std::string> readHeaderPrefix(const std::filesystem::path& path,
                                            std::uint64_t header_size, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string header(static_cast<std::size_t>(std::min<std::uint64_t>(header_size, max_bytes)),
                     '\0');
  std::size_t done = 0;
  while (done < header.size()) {
    const ssize_t got =
        ::pread(fd.get(), header.data() + done, header.size() - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;
    done += static_cast<std::size_t>(got);
  }
  return header;
}

// The msg-ids THREADID assignment follows for a header: its References (root first; or its
// In-Reply-To), then its own Message-ID (a reply stored earlier may have named it already).
std::vector<std::string> threadLinks(std::string_view header) {
  imap::SortKeys keys = imap::sortKeys(header, 0, 0, 0);
  std::vector<std::string> links;
  for (std::string& ref : keys.references) {
    if (links.size() >= kMaxThreadRefs) break;
    if (ref.size() <= kMaxThreadMessageId) links.push_back(std::move(ref));
  }
  if (!keys.message_id.empty() && keys.message_id.size() <= kMaxThreadMessageId) {
    links.push_back(std::move(keys.message_id));
  }
  return links;
}

// RFC 8474 5.2: gives body `blob` its THREADID inside the caller's write transaction: the thread
// of the first of `links` already known, else a new thread named after the body; then records
// every link as belonging to that thread where it was not known yet. Threads never merge, so a
// THREADID once given never changes (RFC 8474 5.2: it MUST NOT change).
Result<void> assignThread(Database& db, const std::string& blob,
                          const std::vector<std::string>& links) {
  std::string thread;
  {
    auto find = db.prepare("SELECT thread FROM thread_refs WHERE message_id = ?");
    if (!find) return fail(find.error());
    for (const std::string& link : links) {
      find->reset();
      find->bind(1, link);
      auto row = find->step();
      if (!row) return fail(row.error());
      if (*row) {
        thread = find->text(0);
        break;
      }
    }
  }
  if (thread.empty()) thread = "T" + blob;
  auto record = db.prepare("INSERT OR IGNORE INTO thread_refs(message_id, thread) VALUES(?, ?)");
  if (!record) return fail(record.error());
  for (const std::string& link : links) {
    record->reset();
    record->bind(1, link).bind(2, thread);
    if (auto done = record->run(); !done) return done;
  }
  auto set = db.prepare("INSERT OR IGNORE INTO threads(blob, thread) VALUES(?, ?)");
  if (!set) return fail(set.error());
  set->bind(1, blob).bind(2, thread);
  return set->run();
}

Result<QuotaUsage> readQuotaUsage(Database& db) {
  auto stmt = db.prepare("SELECT bytes, messages FROM quota_usage WHERE id = 1");
  if (!stmt) return fail(stmt.error());
  auto row = stmt->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(Error{ErrorCode::Corrupt, "quota usage row missing"});
  return QuotaUsage{static_cast<std::uint64_t>(stmt->int64(0)),
                    static_cast<std::uint64_t>(stmt->int64(1))};
}

// Inside a write transaction, after its changes: OverQuota if a resource went up and now exceeds
// its limit. A write that does not raise a resource (a move, an expunge) is never refused, so a
// user already over the limit (the POP pull is never blocked) can still clean up.
Result<void> enforceQuota(Database& db, const QuotaUsage& before, const QuotaLimits& limits) {
  if (!limits.bytes && !limits.messages) return {};
  auto after = readQuotaUsage(db);
  if (!after) return fail(after.error());
  if (limits.bytes && after->bytes > *limits.bytes && after->bytes > before.bytes) {
    return fail(
        Error{ErrorCode::OverQuota, "storage quota exceeded: " + std::to_string(after->bytes) +
                                        " bytes of " + std::to_string(*limits.bytes) + " allowed"});
  }
  if (limits.messages && after->messages > *limits.messages && after->messages > before.messages) {
    return fail(Error{ErrorCode::OverQuota,
                      "message quota exceeded: " + std::to_string(after->messages) +
                          " messages of " + std::to_string(*limits.messages) + " allowed"});
  }
  return {};
}

// Runs `sql` (its parameters: a mailbox id and a uid) once per uid of `uids` in one read
// transaction of `db`. Entry i gets NotFound when no row names uids[i], else what `row` makes
// of that row (row(stmt, i) -> Result<T>).
template <typename T, typename Row>
Result<std::vector<Result<T>>> readEachUid(Database& db, std::int64_t mailbox_id,
                                           std::span<const std::uint32_t> uids,
                                           std::string_view sql, Row row) {
  std::vector<Result<T>> out;
  out.reserve(uids.size());
  auto txn = Transaction::begin(db, Transaction::Kind::Read);
  if (!txn) return fail(txn.error());
  auto stmt = db.prepare(sql);
  if (!stmt) return fail(stmt.error());
  for (std::size_t i = 0; i < uids.size(); ++i) {
    stmt->reset();
    stmt->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uids[i]));
    auto found = stmt->step();
    if (!found) return fail(found.error());
    if (!*found) {
      out.emplace_back(fail(notFound("no message with uid " + std::to_string(uids[i]))));
      continue;
    }
    out.emplace_back(row(*stmt, i));
  }
  *stmt = Statement();
  if (auto done = txn->commit(); !done) return fail(done.error());
  return out;
}

// Up to `limit` ids (the rowid `column`) of the queue `table`, in no particular order, inside
// the caller's transaction: the deferred work of an index job (search_forget,
// search_words_pending).
Result<std::vector<std::int64_t>> queuedIds(Database& db, std::string_view table,
                                            std::size_t limit) {
  auto select = db.prepare("SELECT id FROM " + std::string(table) + " LIMIT ?");
  if (!select) return fail(select.error());
  select->bind(1, static_cast<std::int64_t>(
                      std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max())));
  std::vector<std::int64_t> ids;
  while (true) {
    auto row = select->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    ids.push_back(select->int64(0));
  }
  return ids;
}

// The size in bytes of a document's stored text (header and body), 0 if it has none; `size` is
// the prepared statement of kDocumentTextBytes.
constexpr std::string_view kDocumentTextBytes =
    "SELECT length(CAST(c0 AS BLOB)) + length(CAST(c1 AS BLOB)) FROM search_text_content "
    "WHERE id = ?";
Result<std::size_t> documentTextBytes(Statement& size, std::int64_t id) {
  size.reset();
  size.bind(1, id);
  auto row = size.step();
  if (!row) return fail(row.error());
  const std::size_t bytes = *row ? static_cast<std::size_t>(size.int64(0)) : 0;
  size.reset();
  return bytes;
}

}  // namespace

// A reader connection borrowed from the pool; returned on destruction.
class UserStore::ReaderLease {
 public:
  ReaderLease(UserStore* store, std::unique_ptr<Database> db) : store_(store), db_(std::move(db)) {}
  ReaderLease(ReaderLease&& other) noexcept : store_(other.store_), db_(std::move(other.db_)) {}
  ReaderLease& operator=(ReaderLease&&) = delete;
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  ~ReaderLease() {
    if (db_) store_->releaseReader(std::move(db_));
  }
  Database& operator*() { return *db_; }
  Database* operator->() { return db_.get(); }

 private:
  UserStore* store_;
  std::unique_ptr<Database> db_;
};

UserStore::UserStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

UserStore::~UserStore() {
  // Every write has returned (no reference is left), so nothing of this process can be half
  // done: the next open() need not look for orphans. Best effort: if this is lost, it looks.
  if (marked_open_) (void)::ftruncate(lock_fd_.get(), 0);
}

Result<std::shared_ptr<UserStore>> UserStore::open(const std::filesystem::path& dir) {
  std::shared_ptr<UserStore> store(new UserStore(dir));
  if (auto ready = store->initialize(); !ready) return fail(ready.error());
  return store;
}

Result<void> UserStore::initialize() {
  const bool fresh = ::access(dir_.c_str(), F_OK) != 0;
  if (auto made = makeDirectory(dir_); !made) return made;
  if (fresh) {
    // The new user directory's entry must survive a crash before anything inside it matters.
    if (auto synced = fsyncDirectory(dir_.parent_path()); !synced) return synced;
  }

  // One process per user directory: open() cleans tmp/, which is only safe with no other
  // writer staging there.
  const auto lock_path = dir_ / "lock";
  lock_fd_ = UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_.valid()) return fail(ioError("open", lock_path, errno));
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(Error{ErrorCode::Io, "user store in use by another process: " + dir_.string()});
    }
    return fail(ioError("flock", lock_path, errno));
  }
  // A non-empty lock file: the last process to hold the store was killed, and blobs of its
  // unfinished writes may be left (removed below, once the database is open). This one marks it
  // by extending it to one byte, a hole that needs no data block (so a full disk can still be
  // opened), durable before any blob of this process can be renamed into blobs/. If marking fails
  // the store opens anyway: a crash then leaves orphans for check() to list, nothing worse.
  struct stat lock_stat {};
  if (::fstat(lock_fd_.get(), &lock_stat) != 0) return fail(ioError("fstat", lock_path, errno));
  const bool crashed = lock_stat.st_size > 0;
  marked_open_ =
      crashed || (::ftruncate(lock_fd_.get(), 1) == 0 && ::fdatasync(lock_fd_.get()) == 0);

  const auto blobs = dir_ / "blobs";
  const auto tmp = dir_ / "tmp";
  for (const auto& sub : {blobs, tmp}) {
    if (auto made = makeDirectory(sub); !made) return made;
  }
  // All 256 fan-out directories exist up front, so an append only fsyncs the directories it
  // renamed into, never blobs/ itself.
  static constexpr char kHex[] = "0123456789abcdef";
  bool made_fanout = false;
  for (int i = 0; i < 256; ++i) {
    const char name[3] = {kHex[i >> 4], kHex[i & 0xf], '\0'};
    const auto path = blobs / name;
    if (::access(path.c_str(), F_OK) == 0) continue;
    if (auto made = makeDirectory(path); !made) return made;
    made_fanout = true;
  }
  if (made_fanout || fresh) {
    for (const auto& path : {blobs, dir_}) {
      if (auto synced = fsyncDirectory(path); !synced) return synced;
    }
  }

  // Staged bodies of appends that never committed (a crash, a dropped StagedMessage).
  std::error_code ec;
  for (std::filesystem::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    std::filesystem::remove(it->path(), ec);
  }

  auto db = Database::open(dir_ / "meta.sqlite", sql::OpenMode::ReadWriteCreate);
  if (!db) return fail(db.error());
  writer_ = std::move(*db);

  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto version_stmt = writer_->prepare("PRAGMA user_version");
  if (!version_stmt) return fail(version_stmt.error());
  auto version_row = version_stmt->step();
  if (!version_row) return fail(version_row.error());
  const std::int64_t version = *version_row ? version_stmt->int64(0) : 0;
  version_stmt = Statement();
  if (version > kSchemaVersion) {
    return fail(Error{ErrorCode::Corrupt, "store schema version " + std::to_string(version) +
                                              " is newer than this popbridge (" +
                                              std::to_string(kSchemaVersion) + ")"});
  }
  // Forward migrations, one version at a time, in the same transaction: every mailbox id, UID,
  // UIDVALIDITY, modseq and flag is kept.
  if (version < 1) {
    if (auto created = writer_->exec(kSchemaV1); !created) return created;
  }
  if (version < 6) {
    if (auto added = addObjectIdColumn(*writer_); !added) return added;
  }
  if (version < 2) {
    if (auto created = writer_->exec(kSchemaV2); !created) return created;
  }
  if (version < 3) {
    if (auto created = writer_->exec(kSchemaV3); !created) return created;
    // Bodies stored before version 3 are indexed later by indexPending(), so opening a large old
    // store stays fast; until then search reads them from their blobs.
    if (auto listed = writer_->exec(
            "INSERT OR IGNORE INTO search_pending(blob) SELECT DISTINCT blob FROM messages");
        !listed) {
      return listed;
    }
  }
  if (version < 4) {
    if (auto migrated = migrateToV4(*writer_); !migrated) return migrated;
  }
  if (version < 5) {
    if (auto created = writer_->exec(kSchemaV5); !created) return created;
  }
  if (version < 6) {
    if (auto created = writer_->exec(kSchemaV6); !created) return created;
    if (auto threaded = threadExistingBodies(); !threaded) return threaded;
  }
  if (version < 7) {
    if (auto created = writer_->exec(kSchemaV7); !created) return created;
    if (auto added = addColumn(*writer_, "messages", "doc", kSchemaV7Column); !added) return added;
    if (auto docs = writer_->exec(kSchemaV7Docs); !docs) return docs;
  }
  if (version < 8) {
    if (auto created = writer_->exec(kSchemaV8); !created) return created;
  }
  if (version < 9) {
    if (auto created = writer_->exec(kSchemaV9); !created) return created;
  }
  if (version < kSchemaVersion) {
    if (auto set = writer_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)); !set) {
      return set;
    }
  }

  auto inbox = writer_->prepare("SELECT 1 FROM mailboxes WHERE name = 'INBOX'");
  if (!inbox) return fail(inbox.error());
  auto inbox_row = inbox->step();
  if (!inbox_row) return fail(inbox_row.error());
  inbox = Statement();
  if (!*inbox_row) {
    if (auto created = insertMailbox(*writer_, "INBOX"); !created) return created;
  }
  if (auto committed = txn->commit(); !committed) return committed;
  // Best effort: an orphan left behind wastes space but is never wrong, and check() lists it.
  if (crashed) (void)removeCrashOrphans();
  if (fresh) {
    // meta.sqlite's own directory entry (SQLite syncs the directory for its WAL, not the db).
    if (auto synced = fsyncDirectory(dir_); !synced) return synced;
  }
  return {};
}

Result<UserStore::ReaderLease> UserStore::reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      auto db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(db));
    }
  }
  auto db = Database::open(dir_ / "meta.sqlite", sql::OpenMode::ReadWrite);
  if (!db) return fail(db.error());
  return ReaderLease(this, std::move(*db));
}

void UserStore::releaseReader(std::unique_ptr<sql::Database> db) {
  constexpr std::size_t kMaxIdleReaders = 8;
  std::lock_guard lock(readers_mutex_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(db));
}

std::filesystem::path UserStore::blobPath(std::string_view blob_id) const {
  return dir_ / "blobs" / std::string(blob_id.substr(0, 2)) / std::string(blob_id);
}

std::vector<std::string> UserStore::forgetUnreferencedBlobs(
    const std::vector<std::string>& blob_ids) {
  // In the transaction that removed the messages, not after it: each statement on its own
  // would be a durable commit of its own, two WAL fsyncs per expunged body.
  std::vector<std::string> unreferenced;
  auto stmt = writer_->prepare("SELECT 1 FROM messages WHERE blob = ? LIMIT 1");
  if (!stmt) return unreferenced;  // the blobs stay as orphans; check() reports them
  auto forget = writer_->prepare("DELETE FROM mime WHERE blob = ?");
  auto unthread = writer_->prepare("DELETE FROM threads WHERE blob = ?");
  auto unsize = writer_->prepare("DELETE FROM decoded_sizes WHERE blob = ?");
  for (const auto& blob : blob_ids) {
    stmt->reset();
    stmt->bind(1, blob);
    auto row = stmt->step();
    if (row && !*row) {
      unreferenced.push_back(blob);
      if (forget) {
        forget->reset();
        forget->bind(1, blob);
        (void)forget->run();
      }
      if (unthread) {
        unthread->reset();
        unthread->bind(1, blob);
        (void)unthread->run();
      }
      if (unsize) {
        unsize->reset();
        unsize->bind(1, blob);
        (void)unsize->run();
      }
    }
  }
  return unreferenced;
}

void UserStore::unlinkBlobs(const std::vector<std::string>& blob_ids) {
  for (const auto& blob : blob_ids) ::unlink(blobPath(blob).c_str());
}

Result<void> UserStore::removeCrashOrphans() {
  std::unordered_set<std::string> referenced;
  {
    auto stmt = writer_->prepare("SELECT DISTINCT blob FROM messages");
    if (!stmt) return fail(stmt.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      referenced.insert(stmt->text(0));
    }
  }
  const auto is_blob_name = [](const std::string& name, const std::string& fanout) {
    return name.size() == 32 && name.compare(0, 2, fanout) == 0 &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  std::error_code ec;
  for (std::filesystem::directory_iterator sub(dir_ / "blobs", ec), end; !ec && sub != end;
       sub.increment(ec)) {
    const std::string fanout = sub->path().filename().string();
    std::error_code inner_ec;
    for (std::filesystem::directory_iterator file(sub->path(), inner_ec), file_end;
         !inner_ec && file != file_end; file.increment(inner_ec)) {
      const std::string name = file->path().filename().string();
      if (is_blob_name(name, fanout) && referenced.count(name) == 0) {
        if (::unlink(file->path().c_str()) != 0 && errno != ENOENT) {
          return fail(ioError("unlink", file->path(), errno));
        }
      }
    }
    if (inner_ec) return fail(ioError("list", sub->path(), inner_ec.value()));
  }
  if (ec) return fail(ioError("list", dir_ / "blobs", ec.value()));
  // An unlink lost in a second crash only leaves the orphan for the next recovery.
  if (auto done =
          writer_->exec("DELETE FROM threads WHERE blob NOT IN (SELECT blob FROM messages)");
      !done) {
    return done;
  }
  if (auto done =
          writer_->exec("DELETE FROM decoded_sizes WHERE blob NOT IN (SELECT blob FROM messages)");
      !done) {
    return done;
  }
  return writer_->exec("DELETE FROM mime WHERE blob NOT IN (SELECT blob FROM messages)");
}

Result<std::size_t> UserStore::indexBody(const std::string& blob_id,
                                         const mime::Message& structure) {
  UniqueFd fd(::open(blobPath(blob_id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(ioError("open", blobPath(blob_id), errno));
  SearchText text;
  auto fits = collectSearchText(fd.get(), structure, kMaxIndexedText, text);
  if (!fits) return fail(fits.error());
  if (!*fits) return std::size_t{0};  // searched by extraction instead (search.cc)
  auto doc = writer_->prepare(
      "INSERT INTO search_docs(blob) VALUES(?) ON CONFLICT(blob) DO NOTHING RETURNING id");
  if (!doc) return fail(doc.error());
  doc->bind(1, blob_id);
  auto row = doc->step();
  if (!row) return fail(row.error());
  if (!*row) return std::size_t{0};  // already indexed
  const std::int64_t id = doc->int64(0);
  doc = Statement();
  for (const char* table : {"search_text", "search_words"}) {
    auto insert = writer_->prepare(std::string("INSERT INTO ") + table +
                                   "(rowid, header, body) VALUES(?, ?, ?)");
    if (!insert) return fail(insert.error());
    insert->bind(1, id).bind(2, text.header).bind(3, text.body);
    if (auto done = insert->run(); !done) return fail(done.error());
  }
  return text.header.size() + text.body.size();
}

Result<std::size_t> UserStore::indexPending(std::size_t max_docs) {
  if (max_docs == 0) return std::size_t{0};
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  // Any `max_docs` of them: blob ids are random, so there is no order worth keeping.
  auto select = writer_->prepare(
      "SELECT p.blob, s.structure, EXISTS (SELECT 1 FROM messages WHERE blob = p.blob) "
      "FROM search_pending p LEFT JOIN mime s ON s.blob = p.blob LIMIT ?");
  if (!select) return fail(select.error());
  select->bind(1, static_cast<std::int64_t>(
                      std::min<std::size_t>(max_docs, std::numeric_limits<std::int32_t>::max())));
  struct Pending {
    std::string blob;
    std::optional<std::string> structure;
    bool referenced;
  };
  std::vector<Pending> pending;
  while (true) {
    auto row = select->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    std::optional<std::string> structure;
    if (!select->isNull(1)) structure = select->blob(1);
    pending.push_back({select->text(0), std::move(structure), select->int64(2) != 0});
  }
  select = Statement();
  auto done_row = writer_->prepare("DELETE FROM search_pending WHERE blob = ?");
  if (!done_row) return fail(done_row.error());
  // Documents of expunged bodies go first: until they go, their ids stay taken, so a body
  // indexed below never reuses one whose words are still in the index.
  std::size_t bytes = 0;
  auto forgotten = removeForgottenDocuments(max_docs, bytes);
  if (!forgotten) return fail(forgotten.error());
  std::size_t count = *forgotten;
  for (const auto& body : pending) {
    if (count >= max_docs || bytes >= kMaxIndexBytesPerTransaction) break;
    ++count;
    done_row->reset();
    done_row->bind(1, body.blob);
    if (auto done = done_row->run(); !done) return fail(done.error());
    if (!body.referenced) continue;  // expunged meanwhile; its blob may be gone
    std::optional<mime::Message> structure;
    if (body.structure) {
      if (auto parsed = mime::deserialize(*body.structure)) structure = std::move(*parsed);
    }
    if (!structure) {
      // Stored before version 2 (or a damaged structure row): parse the body.
      UniqueFd fd(::open(blobPath(body.blob).c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0) continue;  // check() reports it
      auto parsed = parseStructure(fd.get(), static_cast<std::uint64_t>(st.st_size));
      if (!parsed) continue;
      structure = std::move(*parsed);
    }
    // A blob that cannot be read stays without a document; search then finds it unreadable too.
    auto indexed = indexBody(body.blob, *structure);
    if (indexed) {
      bytes += *indexed;
    } else if (indexed.error().code != ErrorCode::Io &&
               indexed.error().code != ErrorCode::Corrupt) {
      return fail(indexed.error());
    }
  }
  // Documents of a store older than version 7 get their words from their stored text (no blob
  // is read), in the room this job has left.
  if (count < max_docs && bytes < kMaxIndexBytesPerTransaction) {
    auto ids = queuedIds(*writer_, "search_words_pending", max_docs - count);
    if (!ids) return fail(ids.error());
    auto add = writer_->prepare(
        "INSERT INTO search_words(rowid, header, body) "
        "SELECT id, c0, c1 FROM search_text_content WHERE id = ?");
    if (!add) return fail(add.error());
    auto size = writer_->prepare(kDocumentTextBytes);
    if (!size) return fail(size.error());
    auto listed = writer_->prepare("DELETE FROM search_words_pending WHERE id = ?");
    if (!listed) return fail(listed.error());
    for (const std::int64_t id : *ids) {
      if (bytes >= kMaxIndexBytesPerTransaction) break;
      ++count;
      auto text_bytes = documentTextBytes(*size, id);
      if (!text_bytes) return fail(text_bytes.error());
      bytes += *text_bytes;
      add->reset();
      add->bind(1, id);
      if (auto done = add->run(); !done) return fail(done.error());
      listed->reset();
      listed->bind(1, id);
      if (auto done = listed->run(); !done) return fail(done.error());
    }
  }
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  return count;
}

Result<void> UserStore::forgetSearchText(const std::vector<std::string>& blob_ids) {
  auto remove_pending = writer_->prepare(
      "DELETE FROM search_pending WHERE blob = ?1 "
      "AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = ?1)");
  if (!remove_pending) return fail(remove_pending.error());
  auto queue = writer_->prepare(
      "INSERT OR IGNORE INTO search_forget(id) SELECT d.id FROM search_docs d WHERE d.blob = ?1 "
      "AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = ?1)");
  if (!queue) return fail(queue.error());
  for (const auto& blob : blob_ids) {
    remove_pending->reset();
    remove_pending->bind(1, blob);
    if (auto done = remove_pending->run(); !done) return done;
    queue->reset();
    queue->bind(1, blob);
    if (auto done = queue->run(); !done) return done;
  }
  return {};
}

Result<std::size_t> UserStore::removeForgottenDocuments(std::size_t max_docs, std::size_t& bytes) {
  auto ids = queuedIds(*writer_, "search_forget", max_docs);
  if (!ids) return fail(ids.error());
  if (ids->empty()) return std::size_t{0};
  auto size = writer_->prepare(kDocumentTextBytes);
  if (!size) return fail(size.error());
  // search_words is contentless: a document leaves it by the 'delete' command with the text it
  // was indexed with, unless it was never added (still listed as pending from the migration).
  auto remove_words_pending = writer_->prepare("DELETE FROM search_words_pending WHERE id = ?");
  if (!remove_words_pending) return fail(remove_words_pending.error());
  auto remove_words = writer_->prepare(
      "INSERT INTO search_words(search_words, rowid, header, body) "
      "SELECT 'delete', id, c0, c1 FROM search_text_content WHERE id = ?");
  if (!remove_words) return fail(remove_words.error());
  auto remove_text = writer_->prepare("DELETE FROM search_text WHERE rowid = ?");
  if (!remove_text) return fail(remove_text.error());
  auto remove_doc = writer_->prepare("DELETE FROM search_docs WHERE id = ?");
  if (!remove_doc) return fail(remove_doc.error());
  auto dequeue = writer_->prepare("DELETE FROM search_forget WHERE id = ?");
  if (!dequeue) return fail(dequeue.error());
  std::size_t count = 0;
  for (const std::int64_t id : *ids) {
    if (count > 0 && bytes >= kMaxIndexBytesPerTransaction) break;
    ++count;
    auto text_bytes = documentTextBytes(*size, id);
    if (!text_bytes) return fail(text_bytes.error());
    bytes += *text_bytes;
    remove_words_pending->reset();
    remove_words_pending->bind(1, id);
    if (auto done = remove_words_pending->run(); !done) return fail(done.error());
    if (writer_->changes() == 0) {
      remove_words->reset();
      remove_words->bind(1, id);
      if (auto done = remove_words->run(); !done) return fail(done.error());
    }
    remove_text->reset();
    remove_text->bind(1, id);
    if (auto done = remove_text->run(); !done) return fail(done.error());
    remove_doc->reset();
    remove_doc->bind(1, id);
    if (auto done = remove_doc->run(); !done) return fail(done.error());
    dequeue->reset();
    dequeue->bind(1, id);
    if (auto done = dequeue->run(); !done) return fail(done.error());
  }
  return count;
}

// ---------------------------------------------------------------- mailboxes

Result<std::vector<MailboxInfo>> UserStore::listMailboxes() {
  auto db = reader();
  if (!db) return fail(db.error());
  std::string query(kMailboxColumns);
  query += "GROUP BY b.id ORDER BY b.name";
  auto stmt = (*db)->prepare(query);
  if (!stmt) return fail(stmt.error());
  std::vector<MailboxInfo> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    out.push_back(mailboxFromRow(*stmt));
  }
  return out;
}

Result<MailboxInfo> UserStore::mailbox(std::string_view name) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  auto db = reader();
  if (!db) return fail(db.error());
  auto info =
      queryMailbox(**db, "WHERE b.name = ?", [&](Statement& stmt) { stmt.bind(1, *canonical); });
  if (!info) return fail(info.error());
  if (!*info) return fail(notFound("no mailbox " + *canonical));
  return std::move(**info);
}

Result<void> UserStore::requireMailbox(std::string_view name) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  auto db = reader();
  if (!db) return fail(db.error());
  if (auto exists = mailboxStateByName(**db, *canonical); !exists) return fail(exists.error());
  return {};
}

Result<MailboxInfo> UserStore::mailboxById(std::int64_t mailbox_id) {
  auto db = reader();
  if (!db) return fail(db.error());
  auto info =
      queryMailbox(**db, "WHERE b.id = ?", [&](Statement& stmt) { stmt.bind(1, mailbox_id); });
  if (!info) return fail(info.error());
  if (!*info) return fail(notFound("no mailbox with id " + std::to_string(mailbox_id)));
  return std::move(**info);
}

Result<MailboxInfo> UserStore::createMailbox(std::string_view name, std::uint32_t special_use) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  if ((special_use & ~kSupportedSpecialUse) != 0) {
    return fail(Error{ErrorCode::InvalidName, "unsupported special-use attribute"});
  }
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  if (auto inserted = insertMailbox(*writer_, *canonical); !inserted) {
    return fail(inserted.error());
  }
  if (special_use != 0) {
    if (auto set = setSpecialUse(*writer_, *canonical, special_use); !set) {
      return fail(set.error());
    }
  }
  auto info = queryMailbox(*writer_, "WHERE b.name = ?",
                           [&](Statement& stmt) { stmt.bind(1, *canonical); });
  if (!info) return fail(info.error());
  if (!*info) return fail(internal("created mailbox vanished"));
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  return std::move(**info);
}

Result<void> UserStore::deleteMailbox(std::string_view name) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  // RFC 9051 6.3.4: deleting INBOX is an error.
  if (*canonical == "INBOX") return fail(Error{ErrorCode::InvalidName, "INBOX cannot be deleted"});
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto target = mailboxStateByName(*writer_, *canonical);
  if (!target) return fail(target.error());
  const std::int64_t id = target->id;
  std::vector<std::string> blobs;
  auto list = writer_->prepare("SELECT blob FROM messages WHERE mailbox_id = ?");
  if (!list) return fail(list.error());
  list->bind(1, id);
  while (true) {
    auto row = list->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    blobs.push_back(list->text(0));
  }
  // Messages and expunge memory go by ON DELETE CASCADE; ledger rows keep their uidl.
  auto remove = writer_->prepare("DELETE FROM mailboxes WHERE id = ?");
  if (!remove) return fail(remove.error());
  remove->bind(1, id);
  if (auto done = remove->run(); !done) return done;
  remove = Statement();
  if (auto forgotten = forgetSearchText(blobs); !forgotten) return forgotten;
  const std::vector<std::string> unreferenced = forgetUnreferencedBlobs(blobs);
  if (auto committed = txn->commit(); !committed) return committed;
  unlinkBlobs(unreferenced);
  return {};
}

// ---------------------------------------------------------------- subscriptions

Result<void> UserStore::subscribe(std::string_view name) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  std::lock_guard lock(write_mutex_);
  return insertSubscription(*writer_, *canonical);
}

Result<void> UserStore::unsubscribe(std::string_view name) {
  auto canonical = canonicalMailboxName(name);
  if (!canonical) return fail(canonical.error());
  std::lock_guard lock(write_mutex_);
  auto remove = writer_->prepare("DELETE FROM subscriptions WHERE name = ?");
  if (!remove) return fail(remove.error());
  remove->bind(1, *canonical);
  return remove->run();
}

Result<std::vector<std::string>> UserStore::subscriptions() {
  auto db = reader();
  if (!db) return fail(db.error());
  auto stmt = (*db)->prepare("SELECT name FROM subscriptions ORDER BY name");
  if (!stmt) return fail(stmt.error());
  std::vector<std::string> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    out.push_back(stmt->text(0));
  }
  return out;
}

// ---------------------------------------------------------------- messages

Result<StagedMessage> UserStore::stageMessage() {
  // 128 random bits: unique without coordination between appending threads.
  auto id = randomHex(16);
  if (!id) return fail(id.error());
  auto path = dir_ / "tmp" / *id;
  // Read and write: an import compares a staged body with stored ones (sameBytesAs).
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return fail(ioError("create", path, errno));
  return StagedMessage(this, std::move(path), std::move(*id), std::move(fd), sync_errors_.load());
}

Result<void> UserStore::syncBatch(const std::vector<NewMessage>& batch) {
  std::lock_guard lock(sync_mutex_);
  // lock_fd_ was opened before any body was staged, so an error in writing back any of them is
  // either reported here or was reported to an earlier sync, which counted it.
  if (auto synced = syncFilesystem(lock_fd_.get(), dir_); !synced) {
    sync_errors_.fetch_add(1);
    return synced;
  }
  const std::uint64_t seen = sync_errors_.load();
  for (const NewMessage& message : batch) {
    if (message.body.sync_errors_at_stage_ != seen) {
      return fail(Error{ErrorCode::Io, "a write-back error on the file system of " + dir_.string() +
                                           " since the message was staged"});
    }
  }
  return {};
}

Result<ChangeSet> UserStore::append(std::string_view mailbox_name, std::vector<NewMessage> batch,
                                    const QuotaLimits& limits) {
  auto canonical = canonicalMailboxName(mailbox_name);
  if (!canonical) return fail(canonical.error());
  std::vector<Flags> flags;
  flags.reserve(batch.size());
  for (auto& message : batch) {
    if (message.body.owner_ != this) {
      return fail(internal("staged message belongs to another user store"));
    }
    auto canonical_flags = canonicalFlags(message.flags);
    if (!canonical_flags) return fail(canonical_flags.error());
    flags.push_back(std::move(*canonical_flags));
  }
  // Refuse early, before spending fsyncs, if the mailbox is absent; checked again below.
  if (auto exists = requireMailbox(*canonical); !exists) return fail(exists.error());

  // 1. Every body on disk. 2. Every body under its final name. 3. All of it durable. Only then
  // may a row point at them. Done outside write_mutex_ so concurrent appends overlap their
  // syncs. One body: fsync of the file before its rename, then of its directory. A batch: the
  // files are written and renamed without a sync, then one syncfs(2) writes back and commits
  // them all (two flushes per body become one per batch). A crash before the sync can leave a
  // partial body under its final name, but no row points at it: an orphan, as a staged file.
  const auto sync =
      batch.size() >= kSyncfsMinBatch ? StagedMessage::Sync::Deferred : StagedMessage::Sync::File;
  std::vector<mime::Message> structures;
  structures.reserve(batch.size());
  for (auto& message : batch) {
    if (auto done = message.body.finish(sync); !done) return fail(done.error());
    structures.push_back(message.body.mime_.finish());
  }
  std::vector<std::string> renamed;
  auto undo = [&] {
    for (const auto& blob : renamed) ::unlink(blobPath(blob).c_str());
  };
  std::set<std::string> touched_dirs;
  for (auto& message : batch) {
    StagedMessage& body = message.body;
    const auto target = blobPath(body.blob_id_);
    if (::rename(body.tmp_path_.c_str(), target.c_str()) != 0) {
      const int err = errno;
      undo();
      return fail(ioError("rename", target, err));
    }
    body.committed_ = true;
    renamed.push_back(body.blob_id_);
    touched_dirs.insert(body.blob_id_.substr(0, 2));
  }
  if (sync == StagedMessage::Sync::Deferred) {
    if (auto synced = syncBatch(batch); !synced) {
      undo();
      return fail(synced.error());
    }
  } else {
    for (const auto& sub : touched_dirs) {
      if (auto synced = fsyncDirectory(dir_ / "blobs" / sub); !synced) {
        undo();
        return fail(synced.error());
      }
    }
  }

  // THREADID links of each body, from the header copy kept as it was written, outside the write
  // lock.
  std::vector<std::vector<std::string>> links;
  links.reserve(batch.size());
  for (const auto& message : batch) links.push_back(threadLinks(message.body.headerPrefix()));

  std::lock_guard lock(write_mutex_);
  auto result = [&]() -> Result<ChangeSet> {
    auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
    if (!txn) return fail(txn.error());
    auto target = mailboxStateByName(*writer_, *canonical);
    if (!target) return fail(target.error());
    auto usage_before = readQuotaUsage(*writer_);
    if (!usage_before) return fail(usage_before.error());
    ChangeSet changes;
    changes.mailbox_id = target->id;
    changes.mailbox = *canonical;
    std::uint64_t uidnext = target->uidnext;
    const std::uint64_t modseq = target->highestmodseq + 1;
    if (batch.empty()) {
      changes.highestmodseq = modseq - 1;
      return changes;
    }
    // RFC 9051 2.3.1.1: UIDs are 32-bit and never reused; running out would need a new
    // UIDVALIDITY, which popbridge never assigns to a live mailbox.
    if (uidnext + batch.size() > std::numeric_limits<std::uint32_t>::max()) {
      return fail(internal("UID space of mailbox exhausted: " + *canonical));
    }
    auto insert = writer_->prepare(
        "INSERT INTO messages(mailbox_id, uid, blob, size, header_size, internaldate, tz_offset, "
        "flags, keywords, modseq) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!insert) return fail(insert.error());
    auto ledger_row = writer_->prepare(
        "INSERT INTO ledger(account, uidl, state, first_seen, mailbox_id, uid) "
        "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(account, uidl) DO UPDATE SET "
        "state = excluded.state, mailbox_id = excluded.mailbox_id, uid = excluded.uid");
    if (!ledger_row) return fail(ledger_row.error());
    auto mime_row = writer_->prepare("INSERT OR IGNORE INTO mime(blob, structure) VALUES(?, ?)");
    if (!mime_row) return fail(mime_row.error());
    auto pending_row = writer_->prepare(
        "INSERT OR IGNORE INTO search_pending(blob) SELECT ?1 "
        "WHERE NOT EXISTS (SELECT 1 FROM search_docs WHERE blob = ?1)");
    if (!pending_row) return fail(pending_row.error());
    const std::int64_t now = nowSeconds();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const NewMessage& message = batch[i];
      MessageInfo info{
          .uid = static_cast<std::uint32_t>(uidnext++),
          .flags = std::move(flags[i]),
          .size = message.body.size(),
          .header_size = message.body.headerSize(),
          .internaldate = message.internaldate,
          .tz_offset_minutes = message.tz_offset_minutes,
          .modseq = modseq,
      };
      insert->reset();
      insert->bind(1, changes.mailbox_id)
          .bind(2, static_cast<std::int64_t>(info.uid))
          .bind(3, message.body.blob_id_)
          .bind(4, static_cast<std::int64_t>(info.size))
          .bind(5, static_cast<std::int64_t>(info.header_size))
          .bind(6, info.internaldate)
          .bind(7, static_cast<std::int64_t>(info.tz_offset_minutes))
          .bind(8, static_cast<std::int64_t>(info.flags.system))
          .bind(9, joinKeywords(info.flags.keywords))
          .bind(10, static_cast<std::int64_t>(modseq));
      if (auto done = insert->run(); !done) return fail(done.error());
      mime_row->reset();
      mime_row->bind(1, message.body.blob_id_).bindBlob(2, mime::serialize(structures[i]));
      if (auto done = mime_row->run(); !done) return fail(done.error());
      if (auto threaded = assignThread(*writer_, message.body.blob_id_, links[i]); !threaded) {
        return fail(threaded.error());
      }
      // Tokenizing waits for indexPending(): until then search reads the body from its blob.
      pending_row->reset();
      pending_row->bind(1, message.body.blob_id_);
      if (auto done = pending_row->run(); !done) return fail(done.error());
      if (message.pop) {
        ledger_row->reset();
        ledger_row->bind(1, message.pop->account)
            .bind(2, message.pop->uidl)
            .bind(3, static_cast<std::int64_t>(message.pop->state))
            .bind(4, now)
            .bind(5, changes.mailbox_id)
            .bind(6, static_cast<std::int64_t>(info.uid));
        if (auto done = ledger_row->run(); !done) return fail(done.error());
      }
      changes.appended.push_back(std::move(info));
    }
    auto update =
        writer_->prepare("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?");
    if (!update) return fail(update.error());
    update->bind(1, static_cast<std::int64_t>(uidnext))
        .bind(2, static_cast<std::int64_t>(modseq))
        .bind(3, changes.mailbox_id);
    if (auto done = update->run(); !done) return fail(done.error());
    if (auto within = enforceQuota(*writer_, *usage_before, limits); !within) {
      return fail(within.error());
    }
    if (auto committed = txn->commit(); !committed) return fail(committed.error());
    changes.highestmodseq = modseq;
    return changes;
  }();
  if (!result) undo();
  return result;
}

Result<std::vector<MessageInfo>> UserStore::listMessages(std::int64_t mailbox_id) {
  auto db = reader();
  if (!db) return fail(db.error());
  // One read transaction: the mailbox check and the rows come from the same snapshot.
  auto txn = Transaction::begin(**db, Transaction::Kind::Read);
  if (!txn) return fail(txn.error());
  if (auto state = mailboxState(**db, mailbox_id); !state) return fail(state.error());
  std::string query(kMessageColumns);
  query += "WHERE mailbox_id = ? ORDER BY uid";
  auto stmt = (*db)->prepare(query);
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, mailbox_id);
  std::vector<MessageInfo> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    out.push_back(messageFromRow(*stmt));
  }
  stmt = Statement();
  if (auto done = txn->commit(); !done) return fail(done.error());
  return out;
}

Result<ChangeSet> UserStore::storeFlags(std::int64_t mailbox_id,
                                        std::span<const std::uint32_t> uids, FlagOp op,
                                        const Flags& flags) {
  return changeFlags(mailbox_id, uids, op, flags, std::nullopt, nullptr);
}

Result<ConditionalStore> UserStore::storeFlagsIf(std::int64_t mailbox_id,
                                                 std::span<const std::uint32_t> uids, FlagOp op,
                                                 const Flags& flags,
                                                 std::uint64_t unchanged_since) {
  ConditionalStore result;
  auto changes = changeFlags(mailbox_id, uids, op, flags, unchanged_since, &result.modified);
  if (!changes) return fail(changes.error());
  result.changes = std::move(*changes);
  return result;
}

Result<ChangeSet> UserStore::changeFlags(std::int64_t mailbox_id,
                                         std::span<const std::uint32_t> uids, FlagOp op,
                                         const Flags& flags,
                                         std::optional<std::uint64_t> unchanged_since,
                                         std::vector<std::uint32_t>* modified) {
  auto requested = canonicalFlags(flags);
  if (!requested) return fail(requested.error());
  std::vector<std::uint32_t> sorted(uids.begin(), uids.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto state = mailboxState(*writer_, mailbox_id);
  if (!state) return fail(state.error());
  ChangeSet changes;
  changes.mailbox_id = mailbox_id;
  changes.mailbox = state->name;
  const std::uint64_t modseq = state->highestmodseq + 1;

  std::string query(kMessageColumns);
  query += "WHERE mailbox_id = ? AND uid = ?";
  auto select = writer_->prepare(query);
  if (!select) return fail(select.error());
  auto update = writer_->prepare(
      "UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?");
  if (!update) return fail(update.error());
  for (std::uint32_t uid : sorted) {
    select->reset();
    select->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uid));
    auto row = select->step();
    if (!row) return fail(row.error());
    if (!*row) continue;
    MessageInfo info = messageFromRow(*select);
    // RFC 7162 3.1.3: checked against the committed modseq inside this write transaction, so no
    // concurrent write can slip in between the test and the update.
    if (unchanged_since && info.modseq > *unchanged_since) {
      if (modified != nullptr) modified->push_back(uid);
      continue;
    }
    Flags next;
    switch (op) {
      case FlagOp::Replace:
        next = *requested;
        break;
      case FlagOp::Add: {
        next.system = info.flags.system | requested->system;
        next.keywords = info.flags.keywords;
        next.keywords.insert(next.keywords.end(), requested->keywords.begin(),
                             requested->keywords.end());
        auto merged = canonicalKeywords(next.keywords);
        if (!merged) return fail(merged.error());
        next.keywords = std::move(*merged);
        break;
      }
      case FlagOp::Remove: {
        next.system = info.flags.system & ~requested->system;
        std::unordered_set<std::string> removed;
        for (const auto& keyword : requested->keywords) removed.insert(lowered(keyword));
        for (const auto& keyword : info.flags.keywords) {
          if (removed.count(lowered(keyword)) == 0) next.keywords.push_back(keyword);
        }
        break;
      }
    }
    if (next == info.flags) continue;
    update->reset();
    update->bind(1, static_cast<std::int64_t>(next.system))
        .bind(2, joinKeywords(next.keywords))
        .bind(3, static_cast<std::int64_t>(modseq))
        .bind(4, mailbox_id)
        .bind(5, static_cast<std::int64_t>(uid));
    if (auto done = update->run(); !done) return fail(done.error());
    info.flags = std::move(next);
    info.modseq = modseq;
    changes.flag_changes.push_back(std::move(info));
  }
  if (changes.flag_changes.empty()) {
    changes.highestmodseq = state->highestmodseq;
    return changes;  // nothing written; the transaction rolls back harmlessly
  }
  if (auto done = setHighestModseq(*writer_, mailbox_id, modseq); !done) return fail(done.error());
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  changes.highestmodseq = modseq;
  return changes;
}

Result<ChangeSet> UserStore::expunge(std::int64_t mailbox_id,
                                     std::optional<std::vector<std::uint32_t>> uids) {
  std::unordered_set<std::uint32_t> wanted;
  if (uids) wanted.insert(uids->begin(), uids->end());

  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto state = mailboxState(*writer_, mailbox_id);
  if (!state) return fail(state.error());
  ChangeSet changes;
  changes.mailbox_id = mailbox_id;
  changes.mailbox = state->name;
  changes.highestmodseq = state->highestmodseq;

  auto select = writer_->prepare(
      "SELECT uid, blob FROM messages WHERE mailbox_id = ? AND (flags & ?) != 0 ORDER BY uid");
  if (!select) return fail(select.error());
  select->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(kDeleted));
  std::vector<std::string> blobs;
  while (true) {
    auto row = select->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    const auto uid = static_cast<std::uint32_t>(select->int64(0));
    if (uids && wanted.count(uid) == 0) continue;
    changes.expunged.push_back(uid);
    blobs.push_back(select->text(1));
  }
  select = Statement();
  if (changes.expunged.empty()) return changes;

  const std::uint64_t modseq = state->highestmodseq + 1;
  auto remove = writer_->prepare("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?");
  if (!remove) return fail(remove.error());
  auto remember =
      writer_->prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)");
  if (!remember) return fail(remember.error());
  for (std::uint32_t uid : changes.expunged) {
    remove->reset();
    remove->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uid));
    if (auto done = remove->run(); !done) return fail(done.error());
    remember->reset();
    remember->bind(1, mailbox_id)
        .bind(2, static_cast<std::int64_t>(uid))
        .bind(3, static_cast<std::int64_t>(modseq));
    if (auto done = remember->run(); !done) return fail(done.error());
  }
  if (auto done = setHighestModseq(*writer_, mailbox_id, modseq); !done) return fail(done.error());
  if (auto forgotten = forgetSearchText(blobs); !forgotten) return fail(forgotten.error());
  const std::vector<std::string> unreferenced = forgetUnreferencedBlobs(blobs);
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  changes.highestmodseq = modseq;
  unlinkBlobs(unreferenced);
  return changes;
}

Result<std::vector<std::uint32_t>> UserStore::expungedSince(std::int64_t mailbox_id,
                                                            std::uint64_t modseq) {
  auto db = reader();
  if (!db) return fail(db.error());
  auto txn = Transaction::begin(**db, Transaction::Kind::Read);
  if (!txn) return fail(txn.error());
  if (auto state = mailboxState(**db, mailbox_id); !state) return fail(state.error());
  auto stmt =
      (*db)->prepare("SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(modseq));
  std::vector<std::uint32_t> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    out.push_back(static_cast<std::uint32_t>(stmt->int64(0)));
  }
  stmt = Statement();
  if (auto done = txn->commit(); !done) return fail(done.error());
  return out;
}

Result<BodyReader> UserStore::openBody(std::int64_t mailbox_id, std::uint32_t uid) {
  std::string blob;
  std::uint64_t size = 0;
  {
    auto db = reader();
    if (!db) return fail(db.error());
    auto stmt = (*db)->prepare("SELECT blob, size FROM messages WHERE mailbox_id = ? AND uid = ?");
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uid));
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) return fail(notFound("no message with uid " + std::to_string(uid)));
    blob = stmt->text(0);
    size = static_cast<std::uint64_t>(stmt->int64(1));
  }
  const auto path = blobPath(blob);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    // ENOENT: an expunge in another thread removed it after our SELECT, or the store is damaged.
    if (err == ENOENT) return fail(notFound("message body gone: " + path.string()));
    return fail(ioError("open", path, err));
  }
  return BodyReader(std::move(fd), size);
}

Result<std::optional<DecodedSize>> UserStore::decodedSize(std::int64_t mailbox_id,
                                                          std::uint32_t uid, std::string_view part,
                                                          std::int64_t decoder) {
  auto db = reader();
  if (!db) return fail(db.error());
  auto stmt = (*db)->prepare(
      "SELECT d.size, d.has_nul FROM messages m JOIN decoded_sizes d ON d.blob = m.blob "
      "WHERE m.mailbox_id = ? AND m.uid = ? AND d.part = ? AND d.decoder = ?");
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uid)).bind(3, part).bind(4, decoder);
  auto row = stmt->step();
  if (!row) return fail(row.error());
  if (!*row) return std::optional<DecodedSize>();
  return std::optional<DecodedSize>(
      DecodedSize{static_cast<std::uint64_t>(stmt->int64(0)), stmt->int64(1) != 0});
}

Result<bool> UserStore::recordDecodedSize(std::int64_t mailbox_id, std::uint32_t uid,
                                          std::string_view part, std::int64_t decoder,
                                          DecodedSize size) {
  std::unique_lock lock(write_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // a write is under way: another request records it
  // A cache row need not survive a power loss (it is computed again), so this commit skips the
  // WAL fsync; the next commit with synchronous=FULL makes it durable with its own data.
  if (auto relaxed = writer_->exec("PRAGMA synchronous=NORMAL"); !relaxed) {
    return fail(relaxed.error());
  }
  auto stmt = writer_->prepare(
      "INSERT OR REPLACE INTO decoded_sizes(blob, part, decoder, size, has_nul) "
      "SELECT blob, ?, ?, ?, ? FROM messages WHERE mailbox_id = ? AND uid = ?");
  Result<void> inserted;
  if (stmt) {
    stmt->bind(1, part)
        .bind(2, decoder)
        .bind(3, static_cast<std::int64_t>(size.size))
        .bind(4, static_cast<std::int64_t>(size.has_nul ? 1 : 0))
        .bind(5, mailbox_id)
        .bind(6, static_cast<std::int64_t>(uid));
    inserted = stmt->run();
  } else {
    inserted = fail(stmt.error());
  }
  stmt = Statement();
  auto restored = writer_->exec("PRAGMA synchronous=FULL");
  if (!restored) return fail(restored.error());
  if (!inserted) return fail(inserted.error());
  return true;
}

Result<mime::Message> UserStore::mimeStructure(std::int64_t mailbox_id, std::uint32_t uid) {
  std::string structure;
  bool stored = false;
  {
    auto db = reader();
    if (!db) return fail(db.error());
    auto stmt = (*db)->prepare(
        "SELECT s.structure FROM messages m JOIN mime s ON s.blob = m.blob "
        "WHERE m.mailbox_id = ? AND m.uid = ?");
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(uid));
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (*row) {
      structure = stmt->blob(0);
      stored = true;
    }
  }
  if (stored) {
    auto message = mime::deserialize(structure);
    if (!message) {
      return fail(Error{ErrorCode::Corrupt, "stored MIME structure of uid " + std::to_string(uid) +
                                                " is damaged: " + message.error().message});
    }
    return std::move(*message);
  }
  // A body stored before schema version 2: parse it now, streaming from the blob.
  auto body = openBody(mailbox_id, uid);
  if (!body) return fail(body.error());
  mime::Parser parser;
  std::string chunk(256 * 1024, '\0');
  std::uint64_t offset = 0;
  while (offset < body->size()) {
    auto n = body->read(offset, std::span<char>(chunk.data(), chunk.size()));
    if (!n) return fail(n.error());
    if (*n == 0) break;
    parser.feed(std::string_view(chunk.data(), *n));
    offset += *n;
  }
  return parser.finish();
}

Result<std::vector<Result<mime::Message>>> UserStore::mimeStructures(
    std::int64_t mailbox_id, std::span<const std::uint32_t> uids) {
  // The uids whose body has no stored structure (stored before schema version 2).
  std::vector<std::size_t> unparsed;
  using Batch = Result<std::vector<Result<mime::Message>>>;
  // The reader goes back before the unparsed ones are read, each with a reader of its own.
  Batch out = [&]() -> Batch {
    auto db = reader();
    if (!db) return fail(db.error());
    return readEachUid<mime::Message>(
        **db, mailbox_id, uids,
        "SELECT s.structure FROM messages m LEFT JOIN mime s ON s.blob = m.blob "
        "WHERE m.mailbox_id = ? AND m.uid = ?",
        [&](Statement& stmt, std::size_t i) -> Result<mime::Message> {
          if (stmt.isNull(0)) {
            unparsed.push_back(i);
            return fail(notFound("no structure yet"));
          }
          auto message = mime::deserialize(stmt.blobView(0));
          if (!message) {
            return fail(Error{ErrorCode::Corrupt, "stored MIME structure of uid " +
                                                      std::to_string(uids[i]) +
                                                      " is damaged: " + message.error().message});
          }
          return std::move(*message);
        });
  }();
  if (!out) return out;
  for (const std::size_t i : unparsed) (*out)[i] = mimeStructure(mailbox_id, uids[i]);
  return out;
}

Result<MessageObjectIds> UserStore::objectIds(std::int64_t mailbox_id, std::uint32_t uid) {
  auto ids = objectIdsOf(mailbox_id, std::span<const std::uint32_t>(&uid, 1));
  if (!ids) return fail(ids.error());
  return std::move(ids->front());
}

Result<std::vector<Result<MessageObjectIds>>> UserStore::objectIdsOf(
    std::int64_t mailbox_id, std::span<const std::uint32_t> uids) {
  auto db = reader();
  if (!db) return fail(db.error());
  return readEachUid<MessageObjectIds>(
      **db, mailbox_id, uids,
      "SELECT m.blob, t.thread FROM messages m LEFT JOIN threads t ON t.blob = m.blob "
      "WHERE m.mailbox_id = ? AND m.uid = ?",
      [](Statement& stmt, std::size_t) -> Result<MessageObjectIds> {
        std::string blob = stmt.text(0);
        std::string thread = stmt.isNull(1) ? "T" + blob : stmt.text(1);
        return MessageObjectIds{"E" + blob, std::move(thread)};
      });
}

Result<void> UserStore::threadExistingBodies() {
  struct Body {
    std::string blob;
    std::uint64_t header_size;
  };
  std::vector<Body> bodies;
  {
    // Oldest first, so that a parent usually names the thread its replies join.
    auto list = writer_->prepare(
        "SELECT blob, max(header_size) FROM messages "
        "WHERE blob NOT IN (SELECT blob FROM threads) GROUP BY blob ORDER BY min(internaldate), "
        "blob");
    if (!list) return fail(list.error());
    while (true) {
      auto row = list->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      bodies.push_back(Body{list->text(0), static_cast<std::uint64_t>(list->int64(1))});
    }
  }
  for (const Body& body : bodies) {
    // A body that cannot be read starts its own thread, as one without references would.
    auto header = readHeaderPrefix(blobPath(body.blob), body.header_size, kMaxThreadHeaderBytes);
    const auto links = header ? threadLinks(*header) : std::vector<std::string>();
    if (auto threaded = assignThread(*writer_, body.blob, links); !threaded) return threaded;
  }
  return {};
}

Result<std::vector<MessageHeader>> UserStore::messageHeaders(std::int64_t mailbox_id,
                                                             std::span<const std::uint32_t> uids) {
  struct Row {
    std::uint32_t uid;
    std::string blob;
    std::uint64_t size;
    std::uint64_t header_size;
    std::int64_t internaldate;
  };
  std::vector<Row> rows;
  {
    auto db = reader();
    if (!db) return fail(db.error());
    auto txn = Transaction::begin(**db, Transaction::Kind::Read);
    if (!txn) return fail(txn.error());
    if (auto state = mailboxState(**db, mailbox_id); !state) return fail(state.error());
    auto stmt = (*db)->prepare(
        "SELECT uid, blob, size, header_size, internaldate FROM messages WHERE mailbox_id = ? "
        "ORDER BY uid");
    if (!stmt) return fail(stmt.error());
    stmt->bind(1, mailbox_id);
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      const auto uid = static_cast<std::uint32_t>(stmt->int64(0));
      if (!std::binary_search(uids.begin(), uids.end(), uid)) continue;
      rows.push_back(Row{uid, stmt->text(1), static_cast<std::uint64_t>(stmt->int64(2)),
                         static_cast<std::uint64_t>(stmt->int64(3)), stmt->int64(4)});
    }
    stmt = Statement();
    if (auto done = txn->commit(); !done) return fail(done.error());
  }
  std::vector<MessageHeader> out;
  out.reserve(rows.size());
  for (Row& row : rows) {
    UniqueFd fd(::open(blobPath(row.blob).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    MessageHeader header{row.uid, row.size, row.internaldate, {}};
    header.header.resize(
        static_cast<std::size_t>(std::min<std::uint64_t>(row.header_size, kMaxSortHeaderBytes)));
    std::size_t done = 0;
    bool ok = true;
    while (done < header.header.size()) {
      const ssize_t got = ::pread(fd.get(), header.header.data() + done,
                                  header.header.size() - done, static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ok = false;
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    if (ok) out.push_back(std::move(header));
  }
  return out;
}

Result<TransferResult> UserStore::transfer(std::int64_t source_mailbox_id,
                                           std::span<const std::uint32_t> uids,
                                           std::string_view destination, TransferMode mode,
                                           const QuotaLimits& limits) {
  auto canonical = canonicalMailboxName(destination);
  if (!canonical) return fail(canonical.error());
  std::vector<std::uint32_t> sorted(uids.begin(), uids.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto usage_before = readQuotaUsage(*writer_);
  if (!usage_before) return fail(usage_before.error());
  auto result =
      transferLocked(source_mailbox_id, std::optional(std::move(sorted)), *canonical, mode);
  if (!result) return result;
  if (result->source_uids.empty()) return result;
  if (auto within = enforceQuota(*writer_, *usage_before, limits); !within) {
    return fail(within.error());
  }
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  return result;
}

Result<TransferResult> UserStore::transferLocked(
    std::int64_t source_id, const std::optional<std::vector<std::uint32_t>>& uids,
    const std::string& destination, TransferMode mode) {
  auto source = mailboxState(*writer_, source_id);
  if (!source) return fail(source.error());
  auto target = mailboxStateByName(*writer_, destination);
  if (!target) return fail(target.error());
  TransferResult result;
  result.destination.mailbox_id = target->id;
  result.destination.mailbox = destination;
  std::uint64_t uidnext = target->uidnext;
  const std::uint64_t destination_modseq = target->highestmodseq + 1;
  const bool same = result.destination.mailbox_id == source_id;
  result.source.mailbox_id = source_id;
  result.source.mailbox = source->name;
  result.source.highestmodseq = source->highestmodseq;
  result.destination.highestmodseq = destination_modseq - 1;

  std::string query(
      "SELECT uid, flags, keywords, size, header_size, internaldate, tz_offset, modseq, blob "
      "FROM messages WHERE mailbox_id = ? ORDER BY uid");
  auto select = writer_->prepare(query);
  if (!select) return fail(select.error());
  select->bind(1, source_id);
  std::vector<std::pair<MessageInfo, std::string>> picked;
  while (true) {
    auto row = select->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    MessageInfo info = messageFromRow(*select);
    if (uids && !std::binary_search(uids->begin(), uids->end(), info.uid)) continue;
    picked.emplace_back(std::move(info), select->text(8));
  }
  select = Statement();
  if (picked.empty()) return result;
  if (uidnext + picked.size() > std::numeric_limits<std::uint32_t>::max()) {
    return fail(internal("UID space of mailbox exhausted: " + destination));
  }
  const std::uint64_t source_modseq = same ? destination_modseq : source->highestmodseq + 1;

  auto insert = writer_->prepare(
      "INSERT INTO messages(mailbox_id, uid, blob, size, header_size, internaldate, tz_offset, "
      "flags, keywords, modseq) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return fail(insert.error());
  auto remove = writer_->prepare("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?");
  if (!remove) return fail(remove.error());
  auto remember =
      writer_->prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)");
  if (!remember) return fail(remember.error());
  auto follow = writer_->prepare(
      "UPDATE ledger SET mailbox_id = ?, uid = ? WHERE mailbox_id = ? AND uid = ?");
  if (!follow) return fail(follow.error());
  for (auto& [info, blob] : picked) {
    const std::uint32_t old_uid = info.uid;
    info.uid = static_cast<std::uint32_t>(uidnext++);
    info.modseq = destination_modseq;
    insert->reset();
    insert->bind(1, result.destination.mailbox_id)
        .bind(2, static_cast<std::int64_t>(info.uid))
        .bind(3, blob)
        .bind(4, static_cast<std::int64_t>(info.size))
        .bind(5, static_cast<std::int64_t>(info.header_size))
        .bind(6, info.internaldate)
        .bind(7, static_cast<std::int64_t>(info.tz_offset_minutes))
        .bind(8, static_cast<std::int64_t>(info.flags.system))
        .bind(9, joinKeywords(info.flags.keywords))
        .bind(10, static_cast<std::int64_t>(destination_modseq));
    if (auto done = insert->run(); !done) return fail(done.error());
    if (mode == TransferMode::Move) {
      remove->reset();
      remove->bind(1, source_id).bind(2, static_cast<std::int64_t>(old_uid));
      if (auto done = remove->run(); !done) return fail(done.error());
      remember->reset();
      remember->bind(1, source_id)
          .bind(2, static_cast<std::int64_t>(old_uid))
          .bind(3, static_cast<std::int64_t>(source_modseq));
      if (auto done = remember->run(); !done) return fail(done.error());
      follow->reset();
      follow->bind(1, result.destination.mailbox_id)
          .bind(2, static_cast<std::int64_t>(info.uid))
          .bind(3, source_id)
          .bind(4, static_cast<std::int64_t>(old_uid));
      if (auto done = follow->run(); !done) return fail(done.error());
      result.source.expunged.push_back(old_uid);
    }
    result.source_uids.push_back(old_uid);
    result.destination.appended.push_back(std::move(info));
  }
  auto update =
      writer_->prepare("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?");
  if (!update) return fail(update.error());
  update->bind(1, static_cast<std::int64_t>(uidnext))
      .bind(2, static_cast<std::int64_t>(destination_modseq))
      .bind(3, result.destination.mailbox_id);
  if (auto done = update->run(); !done) return fail(done.error());
  result.destination.highestmodseq = destination_modseq;
  if (mode == TransferMode::Move) {
    if (!same) {
      if (auto done = setHighestModseq(*writer_, source_id, source_modseq); !done) {
        return fail(done.error());
      }
    }
    result.source.highestmodseq = source_modseq;
  }
  return result;
}

Result<MailboxInfo> UserStore::renameMailbox(std::string_view from, std::string_view to) {
  auto old_name = canonicalMailboxName(from);
  if (!old_name) return fail(old_name.error());
  auto new_name = canonicalMailboxName(to);
  if (!new_name) return fail(new_name.error());
  if (new_name->rfind(*old_name + kHierarchySeparator, 0) == 0) {
    return fail(Error{ErrorCode::InvalidName, "cannot rename a mailbox into itself"});
  }
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto exists = writer_->prepare("SELECT id FROM mailboxes WHERE name = ?");
  if (!exists) return fail(exists.error());
  exists->bind(1, *old_name);
  auto found = exists->step();
  if (!found) return fail(found.error());
  if (!*found) return fail(notFound("no mailbox " + *old_name));
  const std::int64_t old_id = exists->int64(0);

  if (*old_name == "INBOX") {
    if (auto created = insertMailbox(*writer_, *new_name); !created) return fail(created.error());
    auto moved = transferLocked(old_id, std::nullopt, *new_name, TransferMode::Move);
    if (!moved) return fail(moved.error());
  } else {
    std::vector<std::pair<std::int64_t, std::string>> renames;
    auto family =
        writer_->prepare("SELECT id, name FROM mailboxes WHERE name = ? OR substr(name, 1, ?) = ?");
    if (!family) return fail(family.error());
    const std::string prefix = *old_name + kHierarchySeparator;
    family->bind(1, *old_name).bind(2, static_cast<std::int64_t>(prefix.size())).bind(3, prefix);
    while (true) {
      auto row = family->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      auto renamed = canonicalMailboxName(*new_name + family->text(1).substr(old_name->size()));
      if (!renamed) return fail(renamed.error());
      renames.emplace_back(family->int64(0), std::move(*renamed));
    }
    family = Statement();
    auto update = writer_->prepare("UPDATE mailboxes SET name = ? WHERE id = ?");
    if (!update) return fail(update.error());
    for (const auto& [id, name] : renames) {
      exists->reset();
      exists->bind(1, name);
      auto taken = exists->step();
      if (!taken) return fail(taken.error());
      if (*taken) return fail(Error{ErrorCode::AlreadyExists, "mailbox exists: " + name});
      update->reset();
      update->bind(1, name).bind(2, id);
      if (auto done = update->run(); !done) return fail(done.error());
    }
  }
  exists = Statement();
  auto info =
      queryMailbox(*writer_, "WHERE b.name = ?", [&](Statement& stmt) { stmt.bind(1, *new_name); });
  if (!info) return fail(info.error());
  if (!*info) return fail(internal("renamed mailbox vanished"));
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  return std::move(**info);
}

// ---------------------------------------------------------------- ledger

Result<std::vector<LedgerEntry>> UserStore::ledger(std::string_view account) {
  return readLedger(account, LedgerOrder::FirstSeen);
}

Result<std::vector<LedgerEntry>> UserStore::readLedger(std::string_view account,
                                                       LedgerOrder order) {
  auto db = reader();
  if (!db) return fail(db.error());
  // Without ORDER BY the rows come in primary-key order, with no sort of the whole ledger.
  auto stmt = (*db)->prepare(
      std::string("SELECT l.uidl, l.state, l.first_seen, coalesce(b.name, ''), coalesce(m.uid, 0) "
                  "FROM ledger l LEFT JOIN mailboxes b ON b.id = l.mailbox_id "
                  "LEFT JOIN messages m ON m.mailbox_id = l.mailbox_id AND m.uid = l.uid "
                  "WHERE l.account = ?") +
      (order == LedgerOrder::FirstSeen ? " ORDER BY l.first_seen, l.uidl" : ""));
  if (!stmt) return fail(stmt.error());
  stmt->bind(1, account);
  std::vector<LedgerEntry> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return fail(row.error());
    if (!*row) break;
    const std::int64_t state = stmt->int64(1);
    if (state < 0 || state > static_cast<std::int64_t>(LedgerState::Deleted)) {
      return fail(Error{ErrorCode::Corrupt, "ledger row with unknown state"});
    }
    out.push_back(LedgerEntry{
        .uidl = stmt->text(0),
        .state = static_cast<LedgerState>(state),
        .first_seen = stmt->int64(2),
        .mailbox = stmt->text(3),
        .uid = static_cast<std::uint32_t>(stmt->int64(4)),
    });
  }
  return out;
}

Result<void> UserStore::setLedgerState(std::string_view account, std::span<const std::string> uidls,
                                       LedgerState state) {
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  auto update = writer_->prepare("UPDATE ledger SET state = ? WHERE account = ? AND uidl = ?");
  if (!update) return fail(update.error());
  auto changed = writer_->prepare("SELECT changes()");
  if (!changed) return fail(changed.error());
  for (const auto& uidl : uidls) {
    update->reset();
    update->bind(1, static_cast<std::int64_t>(state)).bind(2, account).bind(3, uidl);
    if (auto done = update->run(); !done) return done;
    changed->reset();
    auto row = changed->step();
    if (!row) return fail(row.error());
    if (!*row || changed->int64(0) == 0) return fail(notFound("no ledger row for uidl " + uidl));
  }
  return txn->commit();
}

Result<std::vector<LedgerEntry>> UserStore::ledgerRows(std::string_view account) {
  return readLedger(account, LedgerOrder::Any);
}

Result<void> UserStore::forgetLedgerRows(std::string_view account,
                                         std::span<const std::string> uidls) {
  if (uidls.empty()) return {};
  std::lock_guard lock(write_mutex_);
  auto txn = Transaction::begin(*writer_, Transaction::Kind::Write);
  if (!txn) return fail(txn.error());
  // The state is checked again: only this account's pull changes its rows, but a row that
  // became Stored since the caller's read must stay.
  auto remove =
      writer_->prepare("DELETE FROM ledger WHERE account = ? AND uidl = ? AND state != ?");
  if (!remove) return fail(remove.error());
  for (const auto& uidl : uidls) {
    remove->reset();
    remove->bind(1, account).bind(2, uidl).bind(3, static_cast<std::int64_t>(LedgerState::Stored));
    if (auto done = remove->run(); !done) return fail(done.error());
  }
  if (auto committed = txn->commit(); !committed) return fail(committed.error());
  return {};
}

Result<std::vector<LedgerEntry>> UserStore::reconcileLedger(
    std::string_view account, std::span<const std::string> listed_uidls) {
  auto rows = readLedger(account, LedgerOrder::Any);
  if (!rows) return rows;
  const std::unordered_set<std::string_view> listed(listed_uidls.begin(), listed_uidls.end());
  std::vector<LedgerEntry> kept;
  kept.reserve(rows->size());
  std::vector<std::string> gone;
  for (LedgerEntry& entry : *rows) {
    if (entry.state != LedgerState::Stored && listed.count(entry.uidl) == 0) {
      gone.push_back(std::move(entry.uidl));
    } else {
      kept.push_back(std::move(entry));
    }
  }
  // The common poll has nothing to forget: no write transaction, no write lock.
  if (auto forgotten = forgetLedgerRows(account, gone); !forgotten) return fail(forgotten.error());
  return kept;
}

// ---------------------------------------------------------------- quota

Result<QuotaUsage> UserStore::quotaUsage() {
  auto db = reader();
  if (!db) return fail(db.error());
  return readQuotaUsage(**db);
}

// ---------------------------------------------------------------- maintenance

Result<IntegrityReport> UserStore::check() {
  IntegrityReport report;
  std::unordered_set<std::string> referenced;
  {
    auto db = reader();
    if (!db) return fail(db.error());
    auto quick = (*db)->prepare("PRAGMA quick_check");
    if (!quick) return fail(quick.error());
    while (true) {
      auto row = quick->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      std::string line = quick->text(0);
      if (line != "ok") report.problems.push_back("sqlite: " + line);
    }
    quick = Statement();
    // The kept usage against a recount, in one read snapshot.
    auto snapshot = Transaction::begin(**db, Transaction::Kind::Read);
    if (!snapshot) return fail(snapshot.error());
    auto kept = readQuotaUsage(**db);
    if (!kept) return fail(kept.error());
    auto recount = (*db)->prepare("SELECT coalesce(sum(size), 0), count(*) FROM messages");
    if (!recount) return fail(recount.error());
    auto counted = recount->step();
    if (!counted) return fail(counted.error());
    const QuotaUsage actual{static_cast<std::uint64_t>(recount->int64(0)),
                            static_cast<std::uint64_t>(recount->int64(1))};
    recount = Statement();
    if (*kept != actual) {
      report.problems.push_back("quota usage says " + std::to_string(kept->bytes) + " bytes in " +
                                std::to_string(kept->messages) + " messages, a recount finds " +
                                std::to_string(actual.bytes) + " bytes in " +
                                std::to_string(actual.messages));
    }
    if (auto ended = snapshot->commit(); !ended) return fail(ended.error());
    auto stmt = (*db)->prepare(
        "SELECT b.name, m.uid, m.blob, m.size FROM messages m JOIN mailboxes b "
        "ON b.id = m.mailbox_id ORDER BY b.name, m.uid");
    if (!stmt) return fail(stmt.error());
    while (true) {
      auto row = stmt->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      ++report.messages;
      const std::string blob = stmt->text(2);
      referenced.insert(blob);
      const auto expected = static_cast<std::uint64_t>(stmt->int64(3));
      const std::string where = stmt->text(0) + " uid " + std::to_string(stmt->int64(1));
      struct stat st {};
      if (::stat(blobPath(blob).c_str(), &st) != 0) {
        report.problems.push_back(where + ": blob " + blob + " missing");
      } else if (static_cast<std::uint64_t>(st.st_size) != expected) {
        report.problems.push_back(where + ": blob " + blob + " has " + std::to_string(st.st_size) +
                                  " bytes, expected " + std::to_string(expected));
      }
    }
  }
  std::error_code ec;
  std::vector<std::string> orphans;
  for (std::filesystem::directory_iterator sub(dir_ / "blobs", ec), end; !ec && sub != end;
       sub.increment(ec)) {
    const std::string sub_name = sub->path().filename().string();
    if (!sub->is_directory()) {
      orphans.push_back("blobs/" + sub_name);
      continue;
    }
    std::error_code inner_ec;
    for (std::filesystem::directory_iterator file(sub->path(), inner_ec), file_end;
         !inner_ec && file != file_end; file.increment(inner_ec)) {
      const std::string name = file->path().filename().string();
      if (referenced.count(name) == 0 || name.substr(0, 2) != sub_name) {
        orphans.push_back("blobs/" + sub_name + "/" + name);
      }
    }
    if (inner_ec) report.problems.push_back("cannot list blobs/" + sub_name);
  }
  if (ec) report.problems.push_back("cannot list blobs/: " + ec.message());
  std::sort(orphans.begin(), orphans.end());
  report.orphans = std::move(orphans);
  return report;
}

}  // namespace popbridge::store
