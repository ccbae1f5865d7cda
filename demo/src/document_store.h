// The demo's records ("documents"): a title, a description and at most one file, in SQLite.
// The file is known by the name the demo gave it in its documents folder (DocumentFiles), never by
// anything a client sent. Thread-safety: every method takes the database lock. Errors throw
// DatabaseError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "database.h"

namespace resumable::demo {

struct StoredFile {
  std::string file_name;    // as the uploader's browser named it: display only, never a path
  std::string stored_name;  // the demo's name for it in the documents folder
  std::uint64_t size = 0;
  std::string blake2b256;   // 64 lower-case hex digits, as `b2sum -l 256` prints them
  std::int64_t uploaded_at = 0;  // Unix seconds when the file was attached to the record
};

struct DocumentText {
  std::string title;
  std::string description;
};

struct Document {
  std::int64_t id = 0;
  DocumentText text;
  std::optional<StoredFile> file;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// What an edit does to the file: keep it, clear it, or replace it with a new one.
struct KeepFile {};
struct ClearFile {};
using FileChange = std::variant<KeepFile, ClearFile, StoredFile>;

class DocumentStore {
 public:
  explicit DocumentStore(Database& database);  // creates the table if needed

  std::int64_t create(const DocumentText& text, const std::optional<StoredFile>& file);
  std::optional<Document> find(std::int64_t id);
  std::vector<Document> list();  // newest first

  // Outcome of update() and remove(): whether the record existed and which stored file it no
  // longer references (the caller deletes that file once the change is committed).
  struct Change {
    bool found = false;
    std::optional<std::string> released_stored_name;
  };
  Change update(std::int64_t id, const DocumentText& text, const FileChange& file_change);
  Change remove(std::int64_t id);

  // Every stored name a record references (to tell orphaned files from documents).
  std::vector<std::string> stored_names();

 private:
  Database& database_;
};

}  // namespace resumable::demo
