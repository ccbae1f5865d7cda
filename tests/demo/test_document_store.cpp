// The demo's records and the list page that shows them: what each file's digest is, how a database
// from before the tree digest (issue 12) is brought up to date, and what the list tells a user to
// run to check a download.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>

#include "resumable/tree_digest.h"
#include "src/database.h"
#include "src/document_store.h"
#include "src/pages.h"

namespace fs = std::filesystem;
using namespace resumable::demo;

namespace {

// A fresh directory per test case, removed afterwards; the database is reopened from it to see
// what a restart of the demo sees.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("rsm-demo-store-" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path database() const { return path / "demo.sqlite3"; }
};

const std::string plain_digest = "4be209a1f1ec172b41e6ddcbef43c845d4301b5c08a24eacb729776c7ef3c492";
const std::string tree_digest = "d76a5ca3e5bb3d036e73e98abff05145d5ea219d41a785a6fcb5de1669a25758";

// The documents table exactly as the demo created it before the tree digest, with two records:
// one with a file, one without.
void create_database_from_before_the_tree_digest(const fs::path& file) {
  SqliteDatabase database(file);
  auto guard = database.lock();
  database.execute(
      "CREATE TABLE documents ("
      "  id INTEGER PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL, file_name TEXT,"
      "  stored_name TEXT UNIQUE, size INTEGER, blake2b256 TEXT, uploaded_at INTEGER,"
      "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);");
  database
      .prepare(
          "INSERT INTO documents (id, title, description, file_name, stored_name, size, blake2b256, uploaded_at, "
          "created_at, updated_at) VALUES (1, 'Survey', 'raw', 'survey.bin', 'aaaa.bin', 3, ?, 100, 90, 100)")
      .bind(1, plain_digest)
      .run();
  database
      .prepare("INSERT INTO documents (id, title, description, created_at, updated_at) VALUES (2, 'Note', '', 95, 95)")
      .run();
}

std::vector<std::string> columns_of_documents(Database& database) {
  auto guard = database.lock();
  auto query = database.prepare("SELECT name FROM pragma_table_info('documents') ORDER BY cid");
  std::vector<std::string> names;
  while (query.step()) names.push_back(query.text(0));
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void check_old_records_kept(DocumentStore& store) {
  const auto survey = store.find(1);
  REQUIRE(survey);
  REQUIRE(survey->file);
  CHECK(survey->text.title == "Survey");
  CHECK(survey->file->file_name == "survey.bin");
  CHECK(survey->file->stored_name == "aaaa.bin");
  CHECK(survey->file->size == 3);
  CHECK(survey->file->file_digest == plain_digest);
  CHECK(survey->file->digest_algorithm == "blake2b-256");
  CHECK(survey->file->uploaded_at == 100);
  CHECK(survey->created_at == 90);
  const auto note = store.find(2);
  REQUIRE(note);
  CHECK_FALSE(note->file);
}

StoredFile tree_file(const std::string& stored_name) {
  return StoredFile{"abc.txt", stored_name, 3, tree_digest, resumable::core::tree_digest_name, 200};
}

std::string list_page(const std::vector<Document>& documents) {
  return document_list_page(PageFrame{"Documents", nullptr, ""}, documents, std::nullopt).str();
}

}  // namespace

TEST_CASE("document store: a database from before the tree digest keeps every record, its digests marked blake2b-256",
          "[demo][document-store]") {
  ScratchDir dir;
  create_database_from_before_the_tree_digest(dir.database());

  SqliteDatabase database(dir.database());
  DocumentStore store(database);
  const auto columns = columns_of_documents(database);
  CHECK_FALSE(contains(columns, "blake2b256"));
  CHECK(contains(columns, "file_digest"));
  CHECK(contains(columns, "digest_algorithm"));
  check_old_records_kept(store);
  CHECK(store.stored_names() == std::vector<std::string>{"aaaa.bin"});

  // A new record beside the old ones carries the tree digest's name.
  const auto id = store.create({"New", ""}, tree_file("bbbb.bin"));
  CHECK(store.find(id)->file->digest_algorithm == "rsm-tree-v1");
}

TEST_CASE("document store: opening a migrated database again changes nothing", "[demo][document-store]") {
  ScratchDir dir;
  create_database_from_before_the_tree_digest(dir.database());
  std::int64_t new_id = 0;
  {
    SqliteDatabase database(dir.database());
    DocumentStore store(database);
    new_id = store.create({"New", ""}, tree_file("bbbb.bin"));
  }
  for (int reopening = 0; reopening < 2; ++reopening) {
    SqliteDatabase database(dir.database());
    DocumentStore first(database);
    DocumentStore second(database);  // two stores on one connection: the second finds nothing to do
    check_old_records_kept(second);
    const auto added = second.find(new_id);
    REQUIRE(added);
    CHECK(added->file->file_digest == tree_digest);
    CHECK(added->file->digest_algorithm == "rsm-tree-v1");
    CHECK(second.list().size() == 3);
  }
}

TEST_CASE("document store: replacing an old record's file records the new file's algorithm, and clearing it clears both",
          "[demo][document-store]") {
  ScratchDir dir;
  create_database_from_before_the_tree_digest(dir.database());
  SqliteDatabase database(dir.database());
  DocumentStore store(database);

  const auto replaced = store.update(1, {"Survey", "raw"}, tree_file("cccc.bin"));
  CHECK(replaced.released_stored_name == "aaaa.bin");
  CHECK(store.find(1)->file->file_digest == tree_digest);
  CHECK(store.find(1)->file->digest_algorithm == "rsm-tree-v1");

  store.update(1, {"Survey", "raw"}, ClearFile{});
  CHECK_FALSE(store.find(1)->file);
  auto guard = database.lock();
  auto row = database.prepare("SELECT file_digest IS NULL AND digest_algorithm IS NULL FROM documents WHERE id = 1");
  REQUIRE(row.step());
  CHECK(row.integer(0) == 1);
}

TEST_CASE("document list: tree digests come with resumable-digest and the Python reference, not b2sum",
          "[demo][pages]") {
  Document document;
  document.id = 7;
  document.text = {"abc", ""};
  document.file = tree_file("dddd.bin");
  const auto page = list_page({document});

  CHECK(page.find("<code class=\"digest\">" + tree_digest + "</code>") != std::string::npos);
  CHECK(page.find("Tree digest") != std::string::npos);
  CHECK(page.find("BLAKE2b-256 over 1 MiB leaves") != std::string::npos);
  CHECK(page.find("<code>resumable-digest FILE</code>") != std::string::npos);
  CHECK(page.find("<code>python3 tools/resumable_digest.py FILE</code>") != std::string::npos);
  CHECK(page.find("b2sum -l 256") == std::string::npos);
}

TEST_CASE("document list: a record from before the tree digest is shown as plain BLAKE2b-256, checked with b2sum",
          "[demo][pages]") {
  Document old_record;
  old_record.id = 1;
  old_record.text = {"Survey", ""};
  old_record.file = StoredFile{"survey.bin", "aaaa.bin", 3, plain_digest, legacy_digest_algorithm, 100};
  const auto page = list_page({old_record});

  CHECK(page.find("data-algorithm=\"blake2b-256\"><code class=\"digest\">" + plain_digest + "</code>") !=
        std::string::npos);
  CHECK(page.find("plain BLAKE2b-256") != std::string::npos);
  CHECK(page.find("<code>b2sum -l 256 FILE</code>") != std::string::npos);
  CHECK(page.find("<code>resumable-digest FILE</code>") != std::string::npos);
}

TEST_CASE("document list: an unknown algorithm name from the database is shown as text", "[demo][pages]") {
  Document document;
  document.id = 3;
  document.text = {"x", ""};
  document.file = StoredFile{"x.bin", "eeee.bin", 1, tree_digest, "<script>\"x\"", 1};
  const auto page = list_page({document});

  CHECK(page.find("<script>\"x\"") == std::string::npos);
  CHECK(page.find("data-algorithm=\"&lt;script&gt;&quot;x&quot;\"") != std::string::npos);
  CHECK(page.find("algorithm: &lt;script&gt;&quot;x&quot;") != std::string::npos);
}
