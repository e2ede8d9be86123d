#pragma once

// Thin RAII wrappers over the sqlite3 C API, used inside the store only. A Database and its
// Statements belong to one thread at a time; the UserStore's mutexes guarantee that.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "store/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace popbridge::store::sql {

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
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
  bool isNull(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
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
  Result<Statement> prepare(std::string_view sql);
  // An Error for the connection's last failure, classified by SQLite's result code.
  Error lastError(std::string_view what) const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
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
