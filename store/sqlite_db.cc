#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <mutex>

namespace popbridge::store::sql {

sqlite3_stmt* StatementCache::take(std::string_view sql) {
  const auto found = by_sql_.find(sql);
  if (found == by_sql_.end()) return nullptr;
  const auto entry = found->second;
  sqlite3_stmt* stmt = entry->second;
  by_sql_.erase(found);
  entries_.erase(entry);
  return stmt;
}

void StatementCache::give(sqlite3_stmt* stmt) {
  if (stmt == nullptr) return;
  const char* text = sqlite3_sql(stmt);
  if (!open_ || capacity_ == 0 || text == nullptr || by_sql_.count(text) != 0) {
    sqlite3_finalize(stmt);
    return;
  }
  // Ends the statement's read or write of the database, as finalizing it would.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  entries_.emplace_front(text, stmt);
  by_sql_.emplace(entries_.front().first, entries_.begin());
  if (entries_.size() > capacity_) {
    by_sql_.erase(entries_.back().first);
    sqlite3_finalize(entries_.back().second);
    entries_.pop_back();
  }
}

void StatementCache::close() {
  open_ = false;
  by_sql_.clear();
  for (auto& entry : entries_) sqlite3_finalize(entry.second);
  entries_.clear();
}

void Statement::release() {
  if (cache_) {
    cache_->give(stmt_);
    cache_.reset();
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = other.stmt_;
    cache_ = std::move(other.cache_);
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { release(); }

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), static_cast<sqlite3_uint64>(value.size()),
                      SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view value) {
  sqlite3_bind_blob64(stmt_, index, value.data(), static_cast<sqlite3_uint64>(value.size()),
                      SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  return fail(errorFromCode(rc, std::string("sqlite step: ") + sqlite3_errmsg(db)));
}

Result<void> Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return fail(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::int64(int column) const {
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::string_view Statement::textView(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
}

std::string Statement::blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::string_view Statement::blobView(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Error errorFromCode(int code, std::string message) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return Error{ErrorCode::Corrupt, std::move(message)};
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return Error{ErrorCode::Io, std::move(message)};
    case SQLITE_CONSTRAINT:
      return Error{ErrorCode::AlreadyExists, std::move(message)};
    default:
      return Error{ErrorCode::Internal, std::move(message)};
  }
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path, OpenMode mode) {
  static std::once_flag configured;
  std::call_once(configured, [] {
    // No memory statistics (nothing reads them): with them on, every allocation of every
    // connection takes one process-wide mutex, which the store's worker threads contended on.
    // Only possible before SQLite initialises; if something else initialised it first, the
    // call fails and the statistics stay on, which is only slower.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time, guarded by the UserStore.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == OpenMode::ReadWriteCreate) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw));
  if (rc != SQLITE_OK) {
    return fail(errorFromCode(rc, "open " + path.string() + ": " +
                                      (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory")));
  }
  sqlite3_extended_result_codes(raw, 1);
  // Writers wait for each other (another process, a checkpoint) instead of failing at once.
  sqlite3_busy_timeout(raw, 10000);
  // synchronous=FULL in WAL mode fsyncs the WAL at every commit: a commit that returned is on
  // disk (https://sqlite.org/pragma.html#pragma_synchronous).
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto done = db->exec(pragma); !done) return fail(done.error());
  }
  return db;
}

Database::~Database() {
  cache_->close();
  sqlite3_close_v2(db_);
}

Result<void> Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = "sqlite exec: ";
    what += message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return fail(errorFromCode(rc, std::move(what)));
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (sqlite3_stmt* cached = cache_->take(sql)) return Statement(cached, cache_);
  sqlite3_stmt* stmt = nullptr;
  // PERSISTENT: kept for reuse, so SQLite allocates it outside its short-lived lookaside.
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return fail(lastError("sqlite prepare"));
  return Statement(stmt, cache_);
}

ColumnReader Database::columnReader(std::string table, std::string column) {
  return ColumnReader(db_, std::move(table), std::move(column));
}

ColumnReader::~ColumnReader() {
  if (blob_ != nullptr) sqlite3_blob_close(blob_);
}

bool ColumnReader::moveTo(std::int64_t rowid) {
  on_row_ = false;
  if (blob_ != nullptr) {
    // On failure the handle is aborted but stays open; a later reopen may succeed.
    on_row_ = sqlite3_blob_reopen(blob_, rowid) == SQLITE_OK;
    return on_row_;
  }
  const int rc = sqlite3_blob_open(db_, "main", table_.c_str(), column_.c_str(), rowid, 0, &blob_);
  if (rc != SQLITE_OK) {
    // sqlite3_blob_open may leave a handle to release even when it fails.
    if (blob_ != nullptr) sqlite3_blob_close(blob_);
    blob_ = nullptr;
    return false;
  }
  on_row_ = true;
  return true;
}

std::size_t ColumnReader::size() const {
  if (!on_row_) return 0;
  return static_cast<std::size_t>(sqlite3_blob_bytes(blob_));
}

bool ColumnReader::read(std::size_t offset, std::span<char> out) {
  if (!on_row_) return false;
  return sqlite3_blob_read(blob_, out.data(), static_cast<int>(out.size()),
                           static_cast<int>(offset)) == SQLITE_OK;
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

Error Database::lastError(std::string_view what) const {
  std::string message(what);
  message += ": ";
  message += sqlite3_errmsg(db_);
  return errorFromCode(sqlite3_extended_errcode(db_), std::move(message));
}

Result<Transaction> Transaction::begin(Database& db, Kind kind) {
  // BEGIN IMMEDIATE takes the write lock up front, so a read-then-write transaction cannot fail
  // with SQLITE_BUSY half way (https://sqlite.org/lang_transaction.html).
  if (auto begun = db.exec(kind == Kind::Write ? "BEGIN IMMEDIATE" : "BEGIN"); !begun) {
    return fail(begun.error());
  }
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
  Database* db = db_;
  auto committed = db->exec("COMMIT");
  // A failed COMMIT may leave the transaction open; the destructor then rolls it back.
  if (committed) db_ = nullptr;
  return committed;
}

}  // namespace popbridge::store::sql
