#include "document_store.h"

#include <chrono>

namespace resumable::demo {

namespace {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr const char* select_columns =
    "SELECT id, title, description, file_name, stored_name, size, file_digest, digest_algorithm, uploaded_at, "
    "created_at, updated_at FROM documents";

Document read_document(const Statement& row) {
  Document document;
  document.id = row.integer(0);
  document.text.title = row.text(1);
  document.text.description = row.text(2);
  if (!row.is_null(4)) {
    document.file = StoredFile{row.text(3), row.text(4), static_cast<std::uint64_t>(row.integer(5)), row.text(6),
                               row.text(7), row.integer(8)};
  }
  document.created_at = row.integer(9);
  document.updated_at = row.integer(10);
  return document;
}

void bind_file(Statement& statement, int first_index, const std::optional<StoredFile>& file) {
  if (file) {
    statement.bind(first_index, file->file_name)
        .bind(first_index + 1, file->stored_name)
        .bind(first_index + 2, static_cast<std::int64_t>(file->size))
        .bind(first_index + 3, file->file_digest)
        .bind(first_index + 4, file->digest_algorithm)
        .bind(first_index + 5, file->uploaded_at);
  } else {
    for (int i = 0; i < 6; ++i) statement.bind(first_index + i, std::optional<std::string>());
  }
}

bool has_column(Database& database, const std::string& table, const std::string& column) {
  auto columns = database.prepare("SELECT 1 FROM pragma_table_info($1) WHERE name = $2");
  columns.bind(1, table).bind(2, column);
  return columns.step();
}

// A table made before the tree digest has a blake2b256 column holding plain BLAKE2b-256 digests.
// The rename keeps every digest; the rows that have a file are marked with what their digest is.
// Checking for the old column (rather than a version number) makes a second run a no-op whatever
// state the file is in. Only SQLite files are that old: PostgreSQL came later.
void migrate_plain_digest_column(Database& database) {
  if (database.engine() != Database::Engine::sqlite || !has_column(database, "documents", "blake2b256")) return;
  Transaction transaction(database);
  database.execute(
      "ALTER TABLE documents RENAME COLUMN blake2b256 TO file_digest;"
      "ALTER TABLE documents ADD COLUMN digest_algorithm TEXT;");
  database.prepare("UPDATE documents SET digest_algorithm = $1 WHERE stored_name IS NOT NULL")
      .bind(1, legacy_digest_algorithm)
      .run();
  transaction.commit();
}

}  // namespace

DocumentStore::DocumentStore(Database& database) : database_(database) {
  auto guard = database_.lock();
  database_.create_schema(
      std::string("CREATE TABLE IF NOT EXISTS documents (") +
      "  id " + database_.generated_id_column() + ","
      "  title TEXT NOT NULL,"
      "  description TEXT NOT NULL,"
      "  file_name TEXT,"              // display only
      "  stored_name TEXT UNIQUE,"     // NULL when the record has no file
      "  size BIGINT,"
      "  file_digest TEXT,"
      "  digest_algorithm TEXT,"        // names file_digest's algorithm (rsm-tree-v1, blake2b-256)
      "  uploaded_at BIGINT,"
      "  created_at BIGINT NOT NULL,"
      "  updated_at BIGINT NOT NULL)");
  migrate_plain_digest_column(database_);
}

std::int64_t DocumentStore::create(const DocumentText& text, const std::optional<StoredFile>& file) {
  auto guard = database_.lock();
  const std::int64_t now = now_unix();
  auto insert = database_.prepare(
      "INSERT INTO documents (title, description, file_name, stored_name, size, file_digest, digest_algorithm, "
      "uploaded_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id");
  insert.bind(1, text.title).bind(2, text.description);
  bind_file(insert, 3, file);
  insert.bind(9, now).bind(10, now);
  if (!insert.step()) throw DatabaseError("database insert returned no id");
  const std::int64_t id = insert.integer(0);
  insert.run();
  return id;
}

std::optional<Document> DocumentStore::find(std::int64_t id) {
  auto guard = database_.lock();
  auto query = database_.prepare(std::string(select_columns) + " WHERE id = $1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_document(query);
}

std::vector<Document> DocumentStore::list() {
  auto guard = database_.lock();
  auto query = database_.prepare(std::string(select_columns) + " ORDER BY id DESC");
  std::vector<Document> documents;
  while (query.step()) documents.push_back(read_document(query));
  return documents;
}

DocumentStore::Change DocumentStore::update(std::int64_t id, const DocumentText& text, const FileChange& file_change) {
  auto guard = database_.lock();
  Transaction transaction(database_);
  Change change;
  // This UPDATE takes the row's lock until the commit, so the file name it returns is the one the
  // row holds when the file changes below, however many instances edit the record at once
  // (RETURNING gives the new row, and this statement does not change stored_name).
  auto set_text = database_.prepare(
      "UPDATE documents SET title = $1, description = $2, updated_at = $3 WHERE id = $4 RETURNING stored_name");
  set_text.bind(1, text.title).bind(2, text.description).bind(3, now_unix()).bind(4, id);
  change.found = set_text.step();
  if (!change.found) return change;
  const auto previous_stored_name = set_text.optional_text(0);
  set_text.run();
  if (!std::holds_alternative<KeepFile>(file_change)) {
    std::optional<StoredFile> new_file;
    if (const auto* replacement = std::get_if<StoredFile>(&file_change)) new_file = *replacement;
    auto set_file = database_.prepare(
        "UPDATE documents SET file_name = $1, stored_name = $2, size = $3, file_digest = $4, digest_algorithm = $5, "
        "uploaded_at = $6 WHERE id = $7");
    bind_file(set_file, 1, new_file);
    set_file.bind(7, id).run();
    change.released_stored_name = previous_stored_name;
  }
  transaction.commit();
  return change;
}

DocumentStore::Change DocumentStore::remove(std::int64_t id) {
  auto guard = database_.lock();
  Change change;
  // One statement: of two instances deleting the record at once, one gets the file to delete.
  auto remove = database_.prepare("DELETE FROM documents WHERE id = $1 RETURNING stored_name");
  remove.bind(1, id);
  change.found = remove.step();
  if (change.found) change.released_stored_name = remove.optional_text(0);
  remove.run();
  return change;
}

std::vector<std::string> DocumentStore::stored_names() {
  auto guard = database_.lock();
  auto query = database_.prepare("SELECT stored_name FROM documents WHERE stored_name IS NOT NULL");
  std::vector<std::string> names;
  while (query.step()) names.push_back(query.text(0));
  return names;
}

}  // namespace resumable::demo
