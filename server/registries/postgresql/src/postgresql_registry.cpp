// The PostgreSQL registry (resumable/postgresql_registry.h says what it guarantees and how).
#include "resumable/postgresql_registry.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "resumable/digest.h"
#include "resumable/tree_digest.h"

namespace resumable {

namespace {

using Clock = std::chrono::system_clock;

constexpr int schema_version = 1;
// Serialises schema creation among instances starting at once (a transaction-scoped advisory lock).
constexpr const char* schema_lock_key = "7243911017";

// Version 1. A live upload is unique by (principal, identifier); a retired one (collection under
// way) no longer blocks a new upload of the same name. Times are microseconds since the epoch, by
// the database's clock where the row records activity.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE resumable_uploads (
  upload_id       text PRIMARY KEY,
  principal       text NOT NULL,
  identifier      text NOT NULL,
  file_name       text NOT NULL,
  relative_path   text NOT NULL,
  mime_type       text NOT NULL,
  total_size      bigint CHECK (total_size >= 0),
  declared_digest bytea,
  protocol_fields jsonb NOT NULL,
  created_unix    bigint NOT NULL,
  is_partial      boolean NOT NULL,
  last_activity   bigint NOT NULL,
  retired         boolean NOT NULL DEFAULT false,
  token           text UNIQUE,
  file_digest     bytea,
  location        text,
  completed_unix  bigint
);
CREATE UNIQUE INDEX resumable_uploads_live_name ON resumable_uploads (principal, identifier) WHERE NOT retired;
CREATE TABLE resumable_pieces (
  upload_id    text NOT NULL REFERENCES resumable_uploads ON DELETE CASCADE,
  piece_offset bigint NOT NULL CHECK (piece_offset >= 0),
  size         bigint NOT NULL CHECK (size >= 0),
  digest       bytea NOT NULL,
  first_leaf   bigint NOT NULL CHECK (first_leaf >= 0),
  leaves       bytea NOT NULL,
  PRIMARY KEY (upload_id, piece_offset)
);
)sql";

constexpr const char* now_us = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";
constexpr const char* upload_columns =
    "upload_id, principal, identifier, file_name, relative_path, mime_type, total_size, declared_digest, "
    "protocol_fields::text, created_unix, is_partial, last_activity, token, file_digest, location, completed_unix";

struct Statement {
  const char* name;
  std::string sql;
  bool read_only;
};

enum StatementId : std::size_t {
  st_create,
  st_open_upload,
  st_open_pieces,
  st_find,
  st_list,
  st_record_piece,
  st_recorded_piece,
  st_record_activity,
  st_update_manifest,
  st_record_final,
  st_recorded_final,
  st_claim,
  st_retire,
  st_retired,
  st_remove,
  statement_count,
};

const std::vector<Statement>& statements() {
  static const std::vector<Statement> all = [] {
    const std::string now(now_us);
    const std::string columns(upload_columns);
    std::vector<Statement> s(statement_count);
    s[st_create] = {"resumable_create",
                    "INSERT INTO resumable_uploads (upload_id, principal, identifier, file_name, relative_path, "
                    "mime_type, total_size, declared_digest, protocol_fields, created_unix, is_partial, last_activity) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, " + now +
                        ") ON CONFLICT DO NOTHING RETURNING upload_id",
                    false};
    s[st_open_upload] = {"resumable_open_upload", "SELECT " + columns + " FROM resumable_uploads WHERE upload_id = $1",
                         true};
    s[st_open_pieces] = {"resumable_open_pieces",
                         "SELECT piece_offset, size, digest, first_leaf, leaves FROM resumable_pieces "
                         "WHERE upload_id = $1 ORDER BY piece_offset",
                         true};
    s[st_find] = {"resumable_find",
                  "SELECT upload_id FROM resumable_uploads WHERE principal = $1 AND identifier = $2 AND NOT retired", true};
    s[st_list] = {"resumable_list", "SELECT upload_id FROM resumable_uploads ORDER BY upload_id", true};
    // The upload's activity and the piece in one statement; nothing when the upload is gone or
    // the offset is taken (then st_recorded_piece tells which).
    s[st_record_piece] = {"resumable_record_piece",
                          "WITH live AS (UPDATE resumable_uploads SET last_activity = " + now +
                              " WHERE upload_id = $1 AND NOT retired RETURNING upload_id) "
                              "INSERT INTO resumable_pieces (upload_id, piece_offset, size, digest, first_leaf, leaves) "
                              "SELECT upload_id, $2::bigint, $3::bigint, $4::bytea, $5::bigint, $6::bytea FROM live "
                              "ON CONFLICT (upload_id, piece_offset) DO NOTHING RETURNING 1",
                          false};
    s[st_recorded_piece] = {"resumable_recorded_piece",
                            "SELECT p.size, p.digest FROM resumable_pieces p JOIN resumable_uploads u USING (upload_id) "
                            "WHERE p.upload_id = $1 AND p.piece_offset = $2 AND NOT u.retired",
                            true};
    s[st_record_activity] = {"resumable_record_activity",
                             "UPDATE resumable_uploads SET last_activity = " + now +
                                 " WHERE upload_id = $1 AND NOT retired RETURNING 1",
                             false};
    s[st_update_manifest] = {"resumable_update_manifest",
                             "UPDATE resumable_uploads SET identifier = $2, file_name = $3, relative_path = $4, "
                             "mime_type = $5, total_size = $6, declared_digest = $7, protocol_fields = $8::jsonb, "
                             "is_partial = $9 WHERE upload_id = $1 AND NOT retired RETURNING 1",
                             false};
    // Exactly once: only while no token is recorded.
    s[st_record_final] = {"resumable_record_final",
                          "UPDATE resumable_uploads SET token = $2, file_digest = $3, location = $4, completed_unix = $5, "
                          "last_activity = " + now + " WHERE upload_id = $1 AND token IS NULL AND NOT retired RETURNING 1",
                          false};
    s[st_recorded_final] = {"resumable_recorded_final",
                            "SELECT token, file_digest, location, completed_unix FROM resumable_uploads "
                            "WHERE upload_id = $1 AND token IS NOT NULL",
                            true};
    // Once: the row goes with the statement that finds it (its pieces by the cascade).
    s[st_claim] = {"resumable_claim",
                   "DELETE FROM resumable_uploads WHERE token = $1 AND principal = $2 AND NOT retired RETURNING " + columns,
                   false};
    s[st_retire] = {"resumable_retire",
                    "UPDATE resumable_uploads SET retired = true WHERE upload_id = $1 AND NOT retired AND "
                    "((token IS NULL AND last_activity < $2) OR (token IS NOT NULL AND last_activity < $3)) RETURNING 1",
                    false};
    s[st_retired] = {"resumable_retired", "SELECT retired FROM resumable_uploads WHERE upload_id = $1", true};
    s[st_remove] = {"resumable_remove", "DELETE FROM resumable_uploads WHERE upload_id = $1 RETURNING 1", false};
    return s;
  }();
  return all;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnectionDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
using Connection = std::unique_ptr<PGconn, ConnectionDeleter>;

// SQLSTATE classes after which the same request can succeed later: connection exceptions (08),
// transaction rollbacks such as serialization failures and deadlocks (40), insufficient resources
// (53), operator intervention such as a shutdown (57), and a lock not available (55P03).
bool retryable_state(std::string_view state) {
  return state.starts_with("08") || state.starts_with("40") || state.starts_with("53") || state.starts_with("57") ||
         state == "55P03";
}

// A statement's parameters: text values, bytea ones sent in binary, NULLs.
class Params {
 public:
  Params& text(std::string value) {
    values_.push_back(std::move(value));
    formats_.push_back(0);
    nulls_.push_back(false);
    return *this;
  }
  Params& bytes(const std::uint8_t* data, std::size_t length) {
    values_.emplace_back(reinterpret_cast<const char*>(data), length);
    formats_.push_back(1);
    nulls_.push_back(false);
    return *this;
  }
  Params& digest(const core::Digest& digest) { return bytes(digest.data(), digest.size()); }
  Params& null() {
    values_.emplace_back();
    formats_.push_back(0);
    nulls_.push_back(true);
    return *this;
  }
  Params& integer(std::int64_t value) { return text(std::to_string(value)); }
  Params& boolean(bool value) { return text(value ? "true" : "false"); }
  int count() const { return static_cast<int>(values_.size()); }
  void pointers(std::vector<const char*>& values, std::vector<int>& lengths) const {
    values.clear();
    lengths.clear();
    for (std::size_t i = 0; i < values_.size(); ++i) {
      values.push_back(nulls_[i] ? nullptr : values_[i].data());
      lengths.push_back(static_cast<int>(values_[i].size()));
    }
  }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
};

// Values the core hands over are at most 2^63 - 1 where they go into a bigint.
bool fits_bigint(std::uint64_t value) { return value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()); }

// ---- Reading rows: nothing from the database is trusted.
std::optional<std::int64_t> parse_integer(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return std::nullopt;
  const char* text = PQgetvalue(result, row, column);
  const std::string_view view(text, static_cast<std::size_t>(PQgetlength(result, row, column)));
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (error != std::errc() || end != view.data() + view.size()) return std::nullopt;
  return value;
}

std::optional<std::vector<std::uint8_t>> parse_bytea(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return std::nullopt;
  std::size_t length = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result, row, column)), &length);
  if (raw == nullptr) return std::nullopt;
  std::vector<std::uint8_t> bytes(raw, raw + length);
  PQfreemem(raw);
  return bytes;
}

std::optional<core::Digest> parse_digest(const PGresult* result, int row, int column) {
  const auto bytes = parse_bytea(result, row, column);
  if (!bytes || bytes->size() != core::digest_bytes) return std::nullopt;
  core::Digest digest{};
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

std::string text_at(const PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column)));
}

bool plausible_unix_seconds(std::int64_t t) { return t >= 0 && t <= (std::int64_t{1} << 33); }

Clock::time_point from_micros(std::int64_t micros) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
}

std::int64_t to_micros(Clock::time_point t) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return std::clamp<std::int64_t>(micros, 0, std::int64_t{1} << 53);
}

std::string encode_fields(const std::map<std::string, std::string>& fields) {
  // dump() with replace: names and values came from clients and may not be valid UTF-8.
  return nlohmann::json(fields).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::map<std::string, std::string>> decode_fields(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : json.items()) {
    if (!value.is_string()) return std::nullopt;
    fields[name] = value.get<std::string>();
  }
  return fields;
}

// An upload row in upload_columns' order; nullopt for one the core cannot have written.
std::optional<UploadRecords> parse_upload(const PGresult* result, int row) {
  UploadRecords out;
  UploadManifest& m = out.manifest;
  m.upload_id = text_at(result, row, 0);
  m.principal = text_at(result, row, 1);
  m.identifier = text_at(result, row, 2);
  m.file_name = text_at(result, row, 3);
  m.relative_path = text_at(result, row, 4);
  m.mime_type = text_at(result, row, 5);
  if (!PQgetisnull(result, row, 6)) {
    const auto size = parse_integer(result, row, 6);
    if (!size || *size < 0) return std::nullopt;
    m.total_size = static_cast<std::uint64_t>(*size);
  }
  if (!PQgetisnull(result, row, 7)) {
    m.declared_file_digest = parse_digest(result, row, 7);
    if (!m.declared_file_digest) return std::nullopt;
  }
  auto fields = decode_fields(text_at(result, row, 8));
  if (!fields) return std::nullopt;
  m.protocol_fields = std::move(*fields);
  const auto created = parse_integer(result, row, 9);
  if (!created || !plausible_unix_seconds(*created)) return std::nullopt;
  m.created_unix = *created;
  m.partial = text_at(result, row, 10) == "t";
  const auto activity = parse_integer(result, row, 11);
  if (!activity || *activity < 0 || *activity > (std::int64_t{1} << 53)) return std::nullopt;
  out.last_activity = from_micros(*activity);
  if (!PQgetisnull(result, row, 12)) {
    FinalRecord final;
    final.token = text_at(result, row, 12);
    const auto digest = parse_digest(result, row, 13);
    const auto completed = parse_integer(result, row, 15);
    if (!digest || PQgetisnull(result, row, 14) || !completed || !plausible_unix_seconds(*completed)) return std::nullopt;
    final.file_digest = *digest;
    final.location = text_at(result, row, 14);
    final.completed_unix = *completed;
    out.final = std::move(final);
  }
  return out;
}

std::optional<PieceRecord> parse_piece(const PGresult* result, int row) {
  const auto offset = parse_integer(result, row, 0);
  const auto size = parse_integer(result, row, 1);
  const auto digest = parse_digest(result, row, 2);
  const auto first_leaf = parse_integer(result, row, 3);
  const auto leaves = parse_bytea(result, row, 4);
  if (!offset || !size || !digest || !first_leaf || !leaves || *offset < 0 || *size < 0 || *first_leaf < 0) {
    return std::nullopt;
  }
  // Whole digests only, and no more leaves than the piece's size can have (as the local records).
  const std::uint64_t count = leaves->size() / core::digest_bytes;
  if (leaves->size() % core::digest_bytes != 0 || count > static_cast<std::uint64_t>(*size) / core::leaf_bytes + 2) {
    return std::nullopt;
  }
  PieceRecord piece;
  piece.offset = static_cast<std::uint64_t>(*offset);
  piece.size = static_cast<std::uint64_t>(*size);
  piece.digest = *digest;
  piece.first_leaf = static_cast<std::uint64_t>(*first_leaf);
  piece.leaves.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::copy_n(leaves->begin() + static_cast<std::ptrdiff_t>(i * core::digest_bytes), core::digest_bytes,
                piece.leaves[i].begin());
  }
  return piece;
}

class PostgresqlRegistry;

// A pooled connection, given back when destroyed (closed instead when it broke).
class Lease {
 public:
  // Without a connection (none could be had) there is nothing to give back.
  Lease(PostgresqlRegistry* registry, Connection connection)
      : registry_(connection ? registry : nullptr), connection_(std::move(connection)) {}
  Lease(Lease&& other) noexcept
      : registry_(std::exchange(other.registry_, nullptr)), connection_(std::move(other.connection_)), broken_(other.broken_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  PGconn* get() const { return connection_.get(); }
  explicit operator bool() const { return static_cast<bool>(connection_); }
  // Its last statement failed retryably (a shutdown notice, say): closed rather than reused.
  void mark_broken() { broken_ = true; }

 private:
  PostgresqlRegistry* registry_;
  Connection connection_;
  bool broken_ = false;
};

class PostgresqlRegistry final : public UploadRegistry {
 public:
  explicit PostgresqlRegistry(PostgresqlRegistryOptions options) : options_(std::move(options)) {
    options_.max_connections = std::max<std::size_t>(options_.max_connections, 1);
  }

  // Connects once and brings the schema to this build's version.
  StorageStatus start() {
    StorageStatus status;
    Lease lease = acquire(status);
    if (!lease) return status;
    const std::string migrate = std::string("BEGIN; SELECT pg_advisory_xact_lock(") + schema_lock_key +
                                "); SET LOCAL client_min_messages = warning; CREATE TABLE IF NOT EXISTS resumable_schema (version integer NOT NULL);";
    if (auto done = exec_simple(lease, migrate); !done) return done;
    Result version(PQexec(lease.get(), "SELECT max(version) FROM resumable_schema"));
    if (auto checked = check(lease, version.get(), PGRES_TUPLES_OK); !checked) {
      exec_simple(lease, "ROLLBACK");
      return checked;
    }
    const auto found = parse_integer(version.get(), 0, 0);
    if (found && *found > schema_version) {
      exec_simple(lease, "ROLLBACK");
      return {StorageCode::io_error, "the database holds registry schema version " + std::to_string(*found) +
                                         ", newer than this build's " + std::to_string(schema_version)};
    }
    if (!found) {
      if (auto created = exec_simple(lease, std::string(schema_v1) + "INSERT INTO resumable_schema VALUES (" +
                                                std::to_string(schema_version) + ");");
          !created) {
        exec_simple(lease, "ROLLBACK");
        return created;
      }
    }
    return exec_simple(lease, "COMMIT");
  }

  StorageStatus create(const UploadManifest& m) override {
    Params p;
    if (auto status = manifest_params(m, p, true); !status) return status;
    Result result;
    if (auto status = run(st_create, p, result); !status) return status;
    if (PQntuples(result.get()) == 0) return {StorageCode::conflict, "an upload of this name exists"};
    return StorageStatus::success();
  }

  StorageStatus open(const std::string& upload_id, UploadRecords& out) override {
    Params p;
    p.text(upload_id);
    Result upload;
    if (auto status = run(st_open_upload, p, upload); !status) return status;
    if (PQntuples(upload.get()) == 0) return {StorageCode::not_found, "no upload " + upload_id + " in the registry"};
    auto records = parse_upload(upload.get(), 0);
    if (!records || records->manifest.upload_id != upload_id) {
      return {StorageCode::corrupt, "damaged registry row of upload " + upload_id};
    }
    Result pieces;
    if (auto status = run(st_open_pieces, p, pieces); !status) return status;
    for (int row = 0; row < PQntuples(pieces.get()); ++row) {
      auto piece = parse_piece(pieces.get(), row);
      if (!piece) return {StorageCode::corrupt, "damaged piece record of upload " + upload_id};
      records->pieces.push_back(std::move(*piece));
    }
    out = std::move(*records);
    return StorageStatus::success();
  }

  StorageStatus find(const std::string& principal, const std::string& identifier, std::string& upload_id) override {
    Params p;
    p.text(principal).text(identifier);
    Result result;
    if (auto status = run(st_find, p, result); !status) return status;
    if (PQntuples(result.get()) == 0) return {StorageCode::not_found, "no such upload"};
    upload_id = text_at(result.get(), 0, 0);
    return StorageStatus::success();
  }

  StorageStatus list(std::vector<std::string>& upload_ids) override {
    Result result;
    if (auto status = run(st_list, Params{}, result); !status) return status;
    upload_ids.clear();
    for (int row = 0; row < PQntuples(result.get()); ++row) upload_ids.push_back(text_at(result.get(), row, 0));
    return StorageStatus::success();
  }

  StorageStatus record_piece(const std::string& upload_id, const PieceRecord& piece) override {
    if (!fits_bigint(piece.offset) || !fits_bigint(piece.size) || !fits_bigint(piece.first_leaf)) {
      return {StorageCode::io_error, "piece out of the registry's range"};
    }
    std::vector<std::uint8_t> leaves;
    leaves.reserve(piece.leaves.size() * core::digest_bytes);
    for (const auto& leaf : piece.leaves) leaves.insert(leaves.end(), leaf.begin(), leaf.end());
    Params p;
    p.text(upload_id)
        .integer(static_cast<std::int64_t>(piece.offset))
        .integer(static_cast<std::int64_t>(piece.size))
        .digest(piece.digest)
        .integer(static_cast<std::int64_t>(piece.first_leaf))
        .bytes(leaves.data(), leaves.size());
    Result result;
    if (auto status = run(st_record_piece, p, result); !status) return status;
    if (PQntuples(result.get()) == 1) return StorageStatus::success();
    // Nothing inserted: the upload is gone, or a piece is recorded at this offset already.
    Params q;
    q.text(upload_id).integer(static_cast<std::int64_t>(piece.offset));
    Result existing;
    if (auto status = run(st_recorded_piece, q, existing); !status) return status;
    if (PQntuples(existing.get()) == 0) return {StorageCode::not_found, "upload " + upload_id + " is gone"};
    const auto size = parse_integer(existing.get(), 0, 0);
    const auto digest = parse_digest(existing.get(), 0, 1);
    if (size && digest && static_cast<std::uint64_t>(*size) == piece.size && core::digests_equal(*digest, piece.digest)) {
      return StorageStatus::success();  // the same piece again
    }
    return {StorageCode::conflict, "another piece is recorded at " + std::to_string(piece.offset)};
  }

  StorageStatus record_activity(const std::string& upload_id) override {
    Params p;
    p.text(upload_id);
    Result result;
    if (auto status = run(st_record_activity, p, result); !status) return status;
    if (PQntuples(result.get()) == 0) return {StorageCode::not_found, "upload " + upload_id + " is gone"};
    return StorageStatus::success();
  }

  StorageStatus update_manifest(const UploadManifest& m) override {
    Params p;
    if (auto status = manifest_params(m, p, false); !status) return status;
    Result result;
    if (auto status = run(st_update_manifest, p, result); !status) return status;
    if (PQntuples(result.get()) == 0) return {StorageCode::not_found, "upload " + m.upload_id + " is gone"};
    return StorageStatus::success();
  }

  StorageStatus record_final(const std::string& upload_id, FinalRecord& final) override {
    Params p;
    p.text(upload_id).text(final.token).digest(final.file_digest).text(final.location).integer(final.completed_unix);
    Result result;
    if (auto status = run(st_record_final, p, result); !status) return status;
    if (PQntuples(result.get()) == 1) return StorageStatus::success();
    // Not recorded: another caller's final record came first (or the upload is gone).
    Params q;
    q.text(upload_id);
    Result recorded;
    if (auto status = run(st_recorded_final, q, recorded); !status) return status;
    if (PQntuples(recorded.get()) == 0) return {StorageCode::not_found, "upload " + upload_id + " is gone"};
    const auto digest = parse_digest(recorded.get(), 0, 1);
    const auto completed = parse_integer(recorded.get(), 0, 3);
    if (!digest || !completed || PQgetisnull(recorded.get(), 0, 2)) {
      return {StorageCode::corrupt, "damaged final record of upload " + upload_id};
    }
    final.token = text_at(recorded.get(), 0, 0);
    final.file_digest = *digest;
    final.location = text_at(recorded.get(), 0, 2);
    final.completed_unix = *completed;
    return StorageStatus::success();
  }

  StorageStatus claim(const std::string& token, const std::string& principal, UploadRecords& out) override {
    Params p;
    p.text(token).text(principal);
    Result result;
    if (auto status = run(st_claim, p, result); !status) return status;
    if (PQntuples(result.get()) == 0) return {StorageCode::not_found, "no such token"};
    auto records = parse_upload(result.get(), 0);
    if (!records) return {StorageCode::corrupt, "damaged registry row of a claimed upload"};
    out = std::move(*records);
    return StorageStatus::success();
  }

  StorageStatus retire_idle(const std::string& upload_id, Clock::time_point unfinished_before,
                            Clock::time_point finished_before) override {
    Params p;
    p.text(upload_id).integer(to_micros(unfinished_before)).integer(to_micros(finished_before));
    Result result;
    if (auto status = run(st_retire, p, result); !status) return status;
    if (PQntuples(result.get()) == 1) return StorageStatus::success();
    Params q;
    q.text(upload_id);
    Result state;
    if (auto status = run(st_retired, q, state); !status) return status;
    if (PQntuples(state.get()) == 0 || text_at(state.get(), 0, 0) == "t") {
      return {StorageCode::not_found, "upload " + upload_id + " is gone or being removed"};
    }
    return {StorageCode::conflict, "upload " + upload_id + " is active"};
  }

  StorageStatus remove(const std::string& upload_id) override {
    Params p;
    p.text(upload_id);
    Result result;
    return run(st_remove, p, result);
  }

  // ---- The pool (Lease gives connections back through release()).
  void release(Connection connection) {
    {
      std::lock_guard lock(mutex_);
      if (connection && PQstatus(connection.get()) == CONNECTION_OK &&
          PQtransactionStatus(connection.get()) == PQTRANS_IDLE) {
        idle_.push_back(std::move(connection));
      } else {
        --open_;  // broken, or left inside a transaction: closed, a new one is made on demand
      }
    }
    if (connection) connection.reset();
    available_.notify_one();
  }

 private:
  Lease acquire(StorageStatus& status) {
    std::unique_lock lock(mutex_);
    const bool got = available_.wait_for(lock, options_.wait, [&] { return !idle_.empty() || open_ < options_.max_connections; });
    if (!got) {
      status = {StorageCode::unavailable, "no registry connection free within the wait"};
      return Lease(this, nullptr);
    }
    if (!idle_.empty()) {
      Connection connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    ++open_;
    lock.unlock();
    Connection connection = connect(status);
    if (!connection) {
      {
        std::lock_guard relock(mutex_);
        --open_;
      }
      available_.notify_one();
      return Lease(this, nullptr);
    }
    return Lease(this, std::move(connection));
  }

  Connection connect(StorageStatus& status) {
    const std::string timeout = std::to_string(std::max<long long>(2, options_.connect_timeout.count()));
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {options_.conninfo.c_str(), timeout.c_str(), "resumable", nullptr};
    Connection connection(PQconnectdbParams(keys, values, 1));  // expand_dbname: conninfo may be a URI
    if (!connection || PQstatus(connection.get()) != CONNECTION_OK) {
      status = {StorageCode::unavailable,
                std::string("cannot connect to the registry: ") + (connection ? PQerrorMessage(connection.get()) : "out of memory")};
      return nullptr;
    }
    for (const auto& statement : statements()) {
      Result prepared(PQprepare(connection.get(), statement.name, statement.sql.c_str(), 0, nullptr));
      if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        // Before the schema exists (the first start) the statements cannot be prepared: start()
        // makes the schema on this connection, and prepare_all() runs again on the next one.
        if (!schema_ready_.load()) break;
        status = {StorageCode::io_error, std::string("preparing ") + statement.name + ": " + PQerrorMessage(connection.get())};
        return nullptr;
      }
    }
    return connection;
  }

  StorageStatus check(const Lease& lease, const PGresult* result, ExecStatusType expected) const {
    if (result != nullptr && PQresultStatus(result) == expected) return StorageStatus::success();
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(lease.get());
    const bool broken = PQstatus(lease.get()) != CONNECTION_OK;
    if (broken || (state != nullptr && retryable_state(state))) {
      return {StorageCode::unavailable, "registry: " + message};
    }
    if (state != nullptr && std::string_view(state) == "23505") return {StorageCode::conflict, "registry: " + message};
    return {StorageCode::io_error, "registry: " + message};
  }

  StorageStatus exec_simple(const Lease& lease, const std::string& sql) {
    Result result(PQexec(lease.get(), sql.c_str()));
    const ExecStatusType got = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    return check(lease, result.get(), got == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
  }

  // One prepared statement; a read-only one is tried again on a fresh connection if the first broke.
  StorageStatus run(StatementId id, const Params& params, Result& result) {
    const Statement& statement = statements()[id];
    StorageStatus status;
    for (int attempt = 0; attempt < (statement.read_only ? 2 : 1); ++attempt) {
      Lease lease = acquire(status);
      if (!lease) return status;
      std::vector<const char*> values;
      std::vector<int> lengths;
      params.pointers(values, lengths);
      result.reset(PQexecPrepared(lease.get(), statement.name, params.count(), values.data(), lengths.data(),
                                  params.formats(), 0));
      status = check(lease, result.get(), PGRES_TUPLES_OK);
      if (status.code != StorageCode::unavailable) return status;
      lease.mark_broken();
    }
    return status;
  }

  StorageStatus manifest_params(const UploadManifest& m, Params& p, bool creating) const {
    if (m.total_size && !fits_bigint(*m.total_size)) return {StorageCode::io_error, "size out of the registry's range"};
    p.text(m.upload_id);
    if (creating) p.text(m.principal);
    p.text(m.identifier).text(m.file_name).text(m.relative_path).text(m.mime_type);
    if (m.total_size) {
      p.integer(static_cast<std::int64_t>(*m.total_size));
    } else {
      p.null();
    }
    if (m.declared_file_digest) {
      p.digest(*m.declared_file_digest);
    } else {
      p.null();
    }
    p.text(encode_fields(m.protocol_fields));
    if (creating) p.integer(m.created_unix);
    p.boolean(m.partial);
    return StorageStatus::success();
  }

 public:
  // Set once start() succeeded: from then on every statement must prepare.
  std::atomic<bool> schema_ready_{false};
  // Closes the idle connections (start()'s, made before the statements could be prepared).
  void drop_idle() {
    std::lock_guard lock(mutex_);
    open_ -= idle_.size();
    idle_.clear();
  }

 private:
  PostgresqlRegistryOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Connection> idle_;
  std::size_t open_ = 0;
};

Lease::~Lease() {
  if (broken_) connection_.reset();
  if (registry_ != nullptr) registry_->release(std::move(connection_));
}

}  // namespace

std::shared_ptr<UploadRegistry> make_postgresql_registry(const PostgresqlRegistryOptions& options, std::string* error) {
  auto registry = std::make_shared<PostgresqlRegistry>(options);
  if (auto status = registry->start(); !status) {
    if (error != nullptr) *error = status.detail;
    return nullptr;
  }
  registry->schema_ready_ = true;
  // The connection start() used may have prepared nothing (the schema did not exist yet): it is
  // closed, so that every pooled connection has every statement prepared.
  registry->drop_idle();
  return registry;
}

}  // namespace resumable
