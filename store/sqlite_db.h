#pragma once

// Thin RAII wrappers over the sqlite3 C API, used inside the store only. A Database and its
// Statements belong to one thread at a time; the UserStore's mutexes guarantee that.

#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/error.h"

struct sqlite3;
struct sqlite3_blob;
struct sqlite3_stmt;

namespace popbridge::store::sql {

// A Database's prepared statements kept for reuse, by SQL text, least recently used first out:
// the store runs the same few dozen statements over and over, and parsing and planning them
// again each time (sqlite3_prepare) cost a fifth of the daemon's CPU under a mixed IMAP load.
// Used only by the thread that holds its Database, like the Database itself.
class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) : capacity_(capacity) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  // A cached statement for exactly `sql`, reset and unbound, now the caller's; nullptr if none.
  sqlite3_stmt* take(std::string_view sql);
  // Takes back a statement the cache may keep (resets it first); finalizes it when the cache
  // is closed, already holds one for its SQL, or to stay within capacity.
  void give(sqlite3_stmt* stmt);
  // Finalizes every cached statement; later give()s finalize theirs (before the connection
  // closes).
  void close();
  std::size_t sizeForTest() const { return entries_.size(); }

 private:
  using Entry = std::pair<std::string, sqlite3_stmt*>;
  std::size_t capacity_;
  bool open_ = true;
  std::list<Entry> entries_;  // most recently given first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> by_sql_;
};

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  // A statement that goes back to `cache` (shared with its Database) instead of being finalized.
  Statement(sqlite3_stmt* stmt, std::shared_ptr<StatementCache> cache)
      : stmt_(stmt), cache_(std::move(cache)) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), cache_(std::move(other.cache_)) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bindNull(int index);
  // Binds bytes as a BLOB (copied), for binary values such as serialised MIME structures.
  Statement& bindBlob(int index, std::string_view value);

  // Runs one step. Returns true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Result<void> run();
  // Resets for another execution and clears bindings.
  void reset();

  std::int64_t int64(int column) const;
  std::string text(int column) const;
  // The column's text without a copy; valid until the next step(), reset() or destruction.
  std::string_view textView(int column) const;
  std::string blob(int column) const;
  // The column's bytes without a copy; valid until the next step(), reset() or destruction.
  std::string_view blobView(int column) const;
  bool isNull(int column) const;

 private:
  void release();
  sqlite3_stmt* stmt_ = nullptr;
  std::shared_ptr<StatementCache> cache_;
};

// Reads one TEXT or BLOB column of a rowid table in pieces (sqlite3_blob, read-only), moving from
// row to row without a statement per row: only the pages holding the bytes read are visited, so
// a caller that stops early does not pay for the rest of a long value.
class ColumnReader {
 public:
  ColumnReader() = default;
  ColumnReader(ColumnReader&& other) noexcept : blob_(other.blob_) { other.blob_ = nullptr; }
  ColumnReader& operator=(ColumnReader&&) = delete;
  ColumnReader(const ColumnReader&) = delete;
  ColumnReader& operator=(const ColumnReader&) = delete;
  ~ColumnReader();
  // Points the reader at `rowid`. False when there is no such row (or it cannot be read); the
  // reader may then be moved to another row.
  bool moveTo(std::int64_t rowid);
  // The value's length in bytes; 0 when not on a row.
  std::size_t size() const;
  // Reads `out.size()` bytes from `offset`; they must lie inside the value.
  bool read(std::size_t offset, std::span<char> out);

 private:
  friend class Database;
  ColumnReader(sqlite3* db, std::string table, std::string column)
      : db_(db), table_(std::move(table)), column_(std::move(column)) {}
  sqlite3* db_ = nullptr;
  std::string table_;
  std::string column_;
  sqlite3_blob* blob_ = nullptr;
  bool on_row_ = false;
};

enum class OpenMode { ReadWriteCreate, ReadWrite };

class Database {
 public:
  // Opens the database file with WAL, synchronous=FULL, foreign keys and a busy timeout.
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path, OpenMode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Result<void> exec(std::string_view sql);
  // A statement for `sql`, from the connection's cache when it ran before. The Statement must
  // be destroyed by the thread that holds this Database, before another thread may use it.
  Result<Statement> prepare(std::string_view sql);
  // A reader of `table`.`column` (in the main schema), positioned on no row yet.
  ColumnReader columnReader(std::string table, std::string column);
  // Rows the last finished INSERT, UPDATE or DELETE of this connection changed.
  std::int64_t changes() const;
  // An Error for the connection's last failure, classified by SQLite's result code.
  Error lastError(std::string_view what) const;

 private:
  // Statements kept per connection; a few dozen cover every store operation.
  static constexpr std::size_t kCachedStatements = 48;
  explicit Database(sqlite3* db)
      : db_(db), cache_(std::make_shared<StatementCache>(kCachedStatements)) {}
  sqlite3* db_;
  std::shared_ptr<StatementCache> cache_;
};

// A write transaction (BEGIN IMMEDIATE) rolled back on destruction unless committed.
class Transaction {
 public:
  enum class Kind { Read, Write };
  static Result<Transaction> begin(Database& db, Kind kind);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  Result<void> commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

// Maps an SQLite result code to the store's error codes.
Error errorFromCode(int code, std::string message);

}  // namespace popbridge::store::sql
