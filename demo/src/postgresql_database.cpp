#include "postgresql_database.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

namespace resumable::demo {

namespace {

// Serialises the demo's schema creation among instances starting at once (pg_advisory_xact_lock:
// held until that transaction ends). Not the registry's key: the two may create at the same time.
constexpr const char* schema_lock_key = "7243911018";

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

std::string trimmed(const char* message) {
  std::string text = message != nullptr ? message : "unknown error";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class PostgresqlStatement final : public StatementBackend {
 public:
  PostgresqlStatement(PGconn* connection, std::string_view sql) : connection_(connection), sql_(sql) {}

  void bind_text(int index, std::string_view text) override { slot(index) = std::string(text); }
  void bind_integer(int index, std::int64_t value) override { slot(index) = std::to_string(value); }
  void bind_null(int index) override { slot(index).reset(); }

  bool step() override {
    if (!result_) execute();
    ++row_;
    return row_ < PQntuples(result_.get());
  }
  std::int64_t affected_rows() const override {
    const char* count = result_ ? PQcmdTuples(result_.get()) : "";
    return *count != '\0' ? std::strtoll(count, nullptr, 10) : 0;
  }

  bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column) != 0; }
  std::int64_t integer(int column) const override {
    return std::strtoll(PQgetvalue(result_.get(), row_, column), nullptr, 10);
  }
  std::string text(int column) const override {
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
  }

 private:
  std::optional<std::string>& slot(int index) {
    if (index < 1) throw DatabaseError("database bind failed: parameter " + std::to_string(index));
    if (parameters_.size() < static_cast<std::size_t>(index)) parameters_.resize(static_cast<std::size_t>(index));
    return parameters_[static_cast<std::size_t>(index) - 1];
  }

  // Text parameters of unspecified type: the server infers each from where it is used.
  void execute() {
    std::vector<const char*> values;
    values.reserve(parameters_.size());
    for (const auto& parameter : parameters_) values.push_back(parameter ? parameter->c_str() : nullptr);
    result_.reset(PQexecParams(connection_, sql_.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0));
    const auto status = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw DatabaseError("database statement failed: " +
                          trimmed(result_ ? PQresultErrorMessage(result_.get()) : PQerrorMessage(connection_)));
    }
  }

  PGconn* connection_;
  std::string sql_;
  std::vector<std::optional<std::string>> parameters_;
  Result result_;
  int row_ = -1;
};

}  // namespace

void PostgresqlDatabase::Finish::operator()(pg_conn* connection) const { PQfinish(connection); }

PostgresqlDatabase::PostgresqlDatabase(const std::string& conninfo, std::chrono::seconds connect_timeout) {
  const std::string timeout = std::to_string(std::max<long long>(2, connect_timeout.count()));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), timeout.c_str(), "resumable_demo", nullptr};
  connection_.reset(PQconnectdbParams(keys, values, 1));  // expand_dbname: conninfo may be a URI
  if (!connection_) throw DatabaseError("cannot connect to the database: out of memory");
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    throw DatabaseError("cannot connect to the database: " + trimmed(PQerrorMessage(connection_.get())));
  }
  execute("SET client_min_messages = warning");  // no NOTICE for every CREATE ... IF NOT EXISTS
}

PGconn* PostgresqlDatabase::connection() {
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    PQreset(connection_.get());
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      throw DatabaseError("the database connection is lost: " + trimmed(PQerrorMessage(connection_.get())));
    }
    Result set(PQexec(connection_.get(), "SET client_min_messages = warning"));
  }
  return connection_.get();
}

Statement PostgresqlDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<PostgresqlStatement>(connection(), sql));
}

void PostgresqlDatabase::execute(const std::string& sql) {
  PGconn* open = connection();
  Result result(PQexec(open, sql.c_str()));
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw DatabaseError("database statement failed: " +
                        trimmed(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(open)));
  }
}

void PostgresqlDatabase::create_schema(const std::string& sql) {
  Transaction transaction(*this);
  execute(std::string("SELECT pg_advisory_xact_lock(") + schema_lock_key + ")");
  execute(sql);
  transaction.commit();
}

}  // namespace resumable::demo
