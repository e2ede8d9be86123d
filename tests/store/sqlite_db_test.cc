// The sqlite3 wrappers' statement cache: a statement given back is reset (no bindings, no open
// read) and handed out again for the same SQL; it follows schema changes; the cache stays
// within its capacity; a statement may outlive its Database.

#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/store/test_util.h"

namespace popbridge::store::sql {
namespace {

using testing::TempDir;

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Database::open(dir_.path() / "t.sqlite", OpenMode::ReadWriteCreate);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    db_ = std::move(*opened);
    ASSERT_TRUE(db_->exec("CREATE TABLE t(a INTEGER); INSERT INTO t VALUES(1), (2), (3);"));
  }

  std::vector<std::int64_t> column(Statement& stmt) {
    std::vector<std::int64_t> out;
    while (true) {
      auto row = stmt.step();
      EXPECT_TRUE(row.has_value()) << row.error().message;
      if (!row || !*row) return out;
      out.push_back(stmt.isNull(0) ? -1 : stmt.int64(0));
    }
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDbTest, AReusedStatementStartsOverWithoutBindings) {
  const std::string sql = "SELECT a FROM t WHERE a >= coalesce(?, 0) ORDER BY a";
  {
    auto stmt = db_->prepare(sql);
    ASSERT_TRUE(stmt.has_value());
    stmt->bind(1, std::int64_t{2});
    auto row = stmt->step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(stmt->int64(0), 2);
    // Dropped after one row: its read of the database must end here.
  }
  // Another connection can write and checkpoint everything (no reader holds an old snapshot),
  // and this one sees the new row.
  {
    auto other = Database::open(dir_.path() / "t.sqlite", OpenMode::ReadWrite);
    ASSERT_TRUE(other.has_value());
    ASSERT_TRUE((*other)->exec("INSERT INTO t VALUES(4)"));
    auto checkpoint = (*other)->prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    ASSERT_TRUE(checkpoint.has_value());
    ASSERT_TRUE(checkpoint->step().value());
    EXPECT_EQ(checkpoint->int64(0), 0);  // not blocked by a reader
  }
  auto again = db_->prepare(sql);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(column(*again), (std::vector<std::int64_t>{1, 2, 3, 4}));  // ? is NULL again
}

TEST_F(SqliteDbTest, TwoStatementsOfTheSameSqlAtOnceAreIndependent) {
  const std::string sql = "SELECT a FROM t ORDER BY a";
  auto first = db_->prepare(sql);
  auto second = db_->prepare(sql);
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_TRUE(first->step().value());
  EXPECT_EQ(column(*second), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(first->int64(0), 1);
  ASSERT_TRUE(first->step().value());
  EXPECT_EQ(first->int64(0), 2);
}

TEST_F(SqliteDbTest, CachedStatementsFollowSchemaChanges) {
  const std::string sql = "SELECT * FROM t ORDER BY 1";
  {
    auto stmt = db_->prepare(sql);
    ASSERT_TRUE(stmt.has_value());
    EXPECT_EQ(column(*stmt).size(), 3u);
  }
  // A cached statement is not active: DROP TABLE is not refused as "locked".
  ASSERT_TRUE(
      db_->exec("DROP TABLE t; CREATE TABLE t(a INTEGER, b TEXT); "
                "INSERT INTO t VALUES(7, 'x')"));
  auto stmt = db_->prepare(sql);
  ASSERT_TRUE(stmt.has_value());
  ASSERT_TRUE(stmt->step().value());
  EXPECT_EQ(stmt->int64(0), 7);
  EXPECT_EQ(stmt->text(1), "x");
}

TEST_F(SqliteDbTest, StatementMayOutliveItsDatabase) {
  auto stmt = db_->prepare("SELECT a FROM t");
  ASSERT_TRUE(stmt.has_value());
  db_.reset();
  Statement kept = std::move(*stmt);  // finalized, not cached, when it goes
}

TEST(StatementCache, KeepsOnePerSqlWithinCapacityLeastRecentlyUsedOut) {
  TempDir dir;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "c.sqlite").c_str(), &db), SQLITE_OK);
  const auto prepared = [db](const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    return stmt;
  };
  {
    StatementCache cache(2);
    sqlite3_stmt* one = prepared("SELECT 1");
    sqlite3_stmt* one_more = prepared("SELECT 1");
    cache.give(one);
    cache.give(one_more);  // one per SQL: finalized
    EXPECT_EQ(cache.sizeForTest(), 1u);
    EXPECT_EQ(cache.take("SELECT 1"), one);
    EXPECT_EQ(cache.take("SELECT 1"), nullptr);
    cache.give(one);
    cache.give(prepared("SELECT 2"));
    EXPECT_EQ(cache.take("SELECT 1"), one);
    cache.give(one);                   // now the most recent
    cache.give(prepared("SELECT 3"));  // over capacity: SELECT 2 goes
    EXPECT_EQ(cache.sizeForTest(), 2u);
    EXPECT_EQ(cache.take("SELECT 2"), nullptr);
    EXPECT_EQ(cache.take("SELECT 1"), one);
    cache.close();
    EXPECT_EQ(cache.sizeForTest(), 0u);
    cache.give(one);  // closed: finalized
    EXPECT_EQ(cache.sizeForTest(), 0u);
  }
  // Every statement was finalized: the connection closes (SQLITE_BUSY otherwise).
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
}

}  // namespace
}  // namespace popbridge::store::sql
