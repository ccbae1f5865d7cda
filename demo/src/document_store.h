// The demo's records ("documents"): a title, a description and at most one file (database.h).
// The file is known by the name the demo gave it in its documents folder (DocumentFiles), never by
// anything a client sent. Thread-safety: every method takes the database lock. Errors throw
// DatabaseError.
//
// Each file carries its digest and the name of the digest's algorithm: records made before the
// tree digest (issue 12) hold the plain BLAKE2b-256 of the file, and a digest is only useful to
// someone who knows which command reproduces it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "database.h"

namespace resumable::demo {

// The algorithm of the digests recorded before the tree digest: plain BLAKE2b-256, what
// `b2sum -l 256` prints. Databases from then are marked with it when the store opens them.
inline constexpr const char* legacy_digest_algorithm = "blake2b-256";

struct StoredFile {
  std::string file_name;    // as the uploader's browser named it: display only, never a path
  std::string stored_name;  // the demo's name for it in the documents folder
  std::uint64_t size = 0;
  std::string file_digest;  // 64 lower-case hex digits, under digest_algorithm
  std::string digest_algorithm;  // core::tree_digest_name, or legacy_digest_algorithm
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
  // Creates the table if needed, and brings a table from before the tree digest up to date
  // (its blake2b256 column becomes file_digest, its files are marked legacy_digest_algorithm) in
  // one transaction, so a crash leaves either the old table or the new one.
  explicit DocumentStore(Database& database);

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
