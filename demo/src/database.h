// The demo's SQLite database (Debian's libsqlite3): one connection shared by every CivetWeb thread.
//
//   Database db("data/demo.sqlite3");
//   auto guard = db.lock();                       // hold it for a statement or a transaction
//   Transaction transaction(db);
//   db.prepare("INSERT INTO t(a) VALUES (?)").bind(1, "x").run();
//   transaction.commit();                         // otherwise rolled back when it goes out of scope
//
// Errors throw DatabaseError; the HTTP layer turns that into a 500 page, so nothing escapes into
// CivetWeb. Thread-safety: callers hold lock() for the whole of a statement's or transaction's use.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace resumable::demo {

class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One prepared statement. Parameters are numbered from 1, result columns from 0.
class Statement {
 public:
  Statement(sqlite3* connection, std::string_view sql);

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, const std::optional<std::string>& text);
  Statement& bind(int index, const std::optional<std::int64_t>& value);

  // Advances to the next row: true if there is one, false when the statement is done.
  bool step();
  // Runs a statement that returns no rows.
  void run();

  bool is_null(int column) const;
  std::int64_t integer(int column) const;
  std::string text(int column) const;
  std::optional<std::int64_t> optional_integer(int column) const;
  std::optional<std::string> optional_text(int column) const;

 private:
  void check(int status, const char* what) const;

  struct Finalize {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };
  sqlite3* connection_;
  std::unique_ptr<sqlite3_stmt, Finalize> statement_;
};

class Database {
 public:
  // Opens (creating if needed) the database file, in WAL mode with full synchronisation: a record
  // whose transaction committed survives a crash.
  explicit Database(const std::filesystem::path& file);

  std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

  Statement prepare(std::string_view sql) { return Statement(connection_.get(), sql); }
  // Runs one or more statements without parameters (schema, pragmas).
  void execute(const std::string& sql);
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(connection_.get()); }
  int changes() const { return sqlite3_changes(connection_.get()); }

 private:
  struct Close {
    void operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }
  };
  std::unique_ptr<sqlite3, Close> connection_;
  std::mutex mutex_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
// The caller holds the database's lock for the transaction's lifetime.
class Transaction {
 public:
  explicit Transaction(Database& database);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& database_;
  bool committed_ = false;
};

}  // namespace resumable::demo
