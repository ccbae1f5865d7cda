#include "database.h"

namespace resumable::demo {

Statement::Statement(sqlite3* connection, std::string_view sql) : connection_(connection) {
  sqlite3_stmt* prepared = nullptr;
  const int status =
      sqlite3_prepare_v2(connection, sql.data(), static_cast<int>(sql.size()), &prepared, nullptr);
  statement_.reset(prepared);
  check(status, "prepare");
}

void Statement::check(int status, const char* what) const {
  if (status == SQLITE_OK || status == SQLITE_ROW || status == SQLITE_DONE) return;
  throw DatabaseError(std::string("database ") + what + " failed: " + sqlite3_errmsg(connection_));
}

Statement& Statement::bind(int index, std::string_view text) {
  check(sqlite3_bind_text(statement_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT),
        "bind");
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(statement_.get(), index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& text) {
  if (text) return bind(index, std::string_view(*text));
  check(sqlite3_bind_null(statement_.get(), index), "bind");
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  if (value) return bind(index, *value);
  check(sqlite3_bind_null(statement_.get(), index), "bind");
  return *this;
}

bool Statement::step() {
  const int status = sqlite3_step(statement_.get());
  check(status, "step");
  return status == SQLITE_ROW;
}

void Statement::run() {
  while (step()) {
  }
}

bool Statement::is_null(int column) const { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(statement_.get(), column); }

std::string Statement::text(int column) const {
  const auto* bytes = sqlite3_column_text(statement_.get(), column);
  const int length = sqlite3_column_bytes(statement_.get(), column);
  return bytes != nullptr ? std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(length))
                          : std::string();
}

std::optional<std::int64_t> Statement::optional_integer(int column) const {
  if (is_null(column)) return std::nullopt;
  return integer(column);
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

Database::Database(const std::filesystem::path& file) {
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

void Database::execute(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(connection_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    throw DatabaseError("database statement failed: " + error);
  }
}

Transaction::Transaction(Database& database) : database_(database) { database_.execute("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (committed_) return;
  try {
    database_.execute("ROLLBACK");
  } catch (const DatabaseError&) {
    // ROLLBACK fails when no transaction is open any more: SQLite has already rolled it back
    // itself after an I/O, full-disk or out-of-memory error.
  }
}

void Transaction::commit() {
  database_.execute("COMMIT");
  committed_ = true;
}

}  // namespace resumable::demo
