#include "database.h"

#include <sqlite3.h>

namespace resumable::demo {

namespace {

class SqliteStatement final : public StatementBackend {
 public:
  SqliteStatement(sqlite3* connection, std::string_view sql) : connection_(connection) {
    sqlite3_stmt* prepared = nullptr;
    const int status = sqlite3_prepare_v2(connection, sql.data(), static_cast<int>(sql.size()), &prepared, nullptr);
    statement_.reset(prepared);
    check(status, "prepare");
  }

  void bind_text(int index, std::string_view text) override {
    check(sqlite3_bind_text(statement_.get(), position(index), text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT),
          "bind");
  }
  void bind_integer(int index, std::int64_t value) override {
    check(sqlite3_bind_int64(statement_.get(), position(index), value), "bind");
  }
  void bind_null(int index) override { check(sqlite3_bind_null(statement_.get(), position(index)), "bind"); }

  bool step() override {
    const int status = sqlite3_step(statement_.get());
    check(status, "step");
    return status == SQLITE_ROW;
  }
  std::int64_t affected_rows() const override { return sqlite3_changes(connection_); }

  bool is_null(int column) const override { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }
  std::int64_t integer(int column) const override { return sqlite3_column_int64(statement_.get(), column); }
  std::string text(int column) const override {
    const auto* bytes = sqlite3_column_text(statement_.get(), column);
    const int length = sqlite3_column_bytes(statement_.get(), column);
    return bytes != nullptr ? std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(length))
                            : std::string();
  }

 private:
  // SQLite reads $1 as a parameter named "$1", numbered by first appearance: bind by the name, so
  // that $N is the Nth parameter as in PostgreSQL. Plain ? parameters are numbered as written.
  int position(int index) const {
    const std::string name = "$" + std::to_string(index);
    const int named = sqlite3_bind_parameter_index(statement_.get(), name.c_str());
    return named > 0 ? named : index;
  }

  void check(int status, const char* what) const {
    if (status == SQLITE_OK || status == SQLITE_ROW || status == SQLITE_DONE) return;
    throw DatabaseError(std::string("database ") + what + " failed: " + sqlite3_errmsg(connection_));
  }

  struct Finalize {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };
  sqlite3* connection_;
  std::unique_ptr<sqlite3_stmt, Finalize> statement_;
};

}  // namespace

Statement& Statement::bind(int index, std::string_view text) {
  backend_->bind_text(index, text);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  backend_->bind_integer(index, value);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& text) {
  if (text) return bind(index, std::string_view(*text));
  backend_->bind_null(index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  if (value) return bind(index, *value);
  backend_->bind_null(index);
  return *this;
}

std::int64_t Statement::run() {
  while (step()) {
  }
  return backend_->affected_rows();
}

std::optional<std::int64_t> Statement::optional_integer(int column) const {
  if (is_null(column)) return std::nullopt;
  return integer(column);
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

void SqliteDatabase::Close::operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }

SqliteDatabase::SqliteDatabase(const std::filesystem::path& file) {
  sqlite3* opened = nullptr;
  // FULLMUTEX keeps the connection itself safe; lock() serialises statements and transactions.
  const int status = sqlite3_open_v2(file.c_str(), &opened,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  connection_.reset(opened);
  if (status != SQLITE_OK) {
    throw DatabaseError("cannot open " + file.string() + ": " +
                        (opened != nullptr ? sqlite3_errmsg(opened) : sqlite3_errstr(status)));
  }
  sqlite3_busy_timeout(connection_.get(), 5000);
  execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
}

Statement SqliteDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<SqliteStatement>(connection_.get(), sql));
}

void SqliteDatabase::execute(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(connection_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    throw DatabaseError("database statement failed: " + error);
  }
}

Transaction::Transaction(Database& database) : database_(database) { database_.begin(); }

Transaction::~Transaction() {
  if (committed_) return;
  try {
    database_.execute("ROLLBACK");
  } catch (const DatabaseError&) {
    // ROLLBACK fails when no transaction is open any more: SQLite has already rolled it back
    // itself after an I/O, full-disk or out-of-memory error; a PostgreSQL connection that broke
    // has lost it with the connection.
  }
}

void Transaction::commit() {
  database_.execute("COMMIT");
  committed_ = true;
}

}  // namespace resumable::demo
