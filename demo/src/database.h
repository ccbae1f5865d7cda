// The demo's database: one interface over two engines, so that the same stores (accounts,
// sessions, documents) run over a SQLite file (one instance, the default) or PostgreSQL (several
// instances behind a load balancer, --database; postgresql_database.h).
//
//   SqliteDatabase db("data/demo.sqlite3");
//   auto guard = db.lock();                       // hold it for a statement or a transaction
//   Transaction transaction(db);
//   db.prepare("INSERT INTO t(a) VALUES ($1)").bind(1, "x").run();
//   transaction.commit();                         // otherwise rolled back when it goes out of scope
//
// SQL is written once for both engines: parameters are $1, $2, ... (bound, never spliced into the
// text), INSERT ... RETURNING and ON CONFLICT instead of engine-specific calls, BIGINT for
// integers; what differs (the id column, schema creation among instances starting at once) is a
// method here. Errors throw DatabaseError; the HTTP layer turns that into a 500 page, so nothing
// escapes into CivetWeb. Thread-safety: one connection per Database; callers hold lock() for the
// whole of a statement's or transaction's use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;

namespace resumable::demo {

class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One engine's prepared statement (SqliteDatabase, PostgresqlDatabase implement it).
class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_integer(int index, std::int64_t value) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  virtual std::int64_t affected_rows() const = 0;  // rows an INSERT/UPDATE/DELETE changed, once done
  virtual bool is_null(int column) const = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual std::string text(int column) const = 0;
};

// One prepared statement. Parameters are numbered from 1 ($1, $2, ...), result columns from 0.
class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementBackend> backend) : backend_(std::move(backend)) {}

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, const std::optional<std::string>& text);
  Statement& bind(int index, const std::optional<std::int64_t>& value);

  // Advances to the next row: true if there is one, false when the statement is done.
  bool step() { return backend_->step(); }
  // Runs a statement to its end; returns how many rows it inserted, updated or deleted.
  std::int64_t run();

  bool is_null(int column) const { return backend_->is_null(column); }
  std::int64_t integer(int column) const { return backend_->integer(column); }
  std::string text(int column) const { return backend_->text(column); }
  std::optional<std::int64_t> optional_integer(int column) const;
  std::optional<std::string> optional_text(int column) const;

 private:
  std::unique_ptr<StatementBackend> backend_;
};

class Database {
 public:
  enum class Engine { sqlite, postgresql };

  virtual ~Database() = default;
  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  virtual Engine engine() const = 0;
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

  virtual Statement prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters.
  virtual void execute(const std::string& sql) = 0;
  // Runs CREATE ... IF NOT EXISTS statements so that instances starting at once over one database
  // do not trip over each other (PostgreSQL: under a transaction-scoped advisory lock).
  virtual void create_schema(const std::string& sql) = 0;
  // The column definition of an integer primary key the database numbers itself.
  virtual const char* generated_id_column() const = 0;
  // Starts a transaction that writes (Transaction calls it).
  virtual void begin() = 0;

 private:
  std::mutex mutex_;
};

class SqliteDatabase final : public Database {
 public:
  // Opens (creating if needed) the database file, in WAL mode with full synchronisation: a record
  // whose transaction committed survives a crash.
  explicit SqliteDatabase(const std::filesystem::path& file);

  Engine engine() const override { return Engine::sqlite; }
  Statement prepare(std::string_view sql) override;
  void execute(const std::string& sql) override;
  void create_schema(const std::string& sql) override { execute(sql); }
  const char* generated_id_column() const override { return "INTEGER PRIMARY KEY"; }
  // IMMEDIATE: the write lock at once, so two writers never deadlock upgrading from a read.
  void begin() override { execute("BEGIN IMMEDIATE"); }

 private:
  struct Close {
    void operator()(sqlite3* connection) const;
  };
  std::unique_ptr<sqlite3, Close> connection_;
};

// begin() on construction; ROLLBACK on destruction unless commit() succeeded.
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
