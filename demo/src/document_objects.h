// The records' files kept as S3 objects (--s3). With the S3 store, a finished upload already is an
// object in the bucket (its released object, claimed from the server library): a record then
// keeps it where it is, under the stored name "s3:<key>", and downloads stream it from S3 with
// ranged GetObject requests, in pieces (no file is ever held whole). Without --s3 there is no
// DocumentObjects and every stored name is a DocumentFiles name.
// Thread-safety: all methods may be called concurrently. Nothing throws but bad_alloc.
#pragma once

#include <string>
#include <string_view>

#include "document_store.h"
#include "file_download.h"

namespace resumable::demo {

class DocumentObjects {
 public:
  static constexpr std::string_view stored_prefix = "s3:";
  static bool holds(std::string_view stored_name) { return stored_name.substr(0, stored_prefix.size()) == stored_prefix; }
  static std::string stored_name_for(std::string_view key) { return std::string(stored_prefix) + std::string(key); }

  virtual ~DocumentObjects() = default;
  // The download of a record's file whose stored name holds() is true.
  virtual DownloadSource source(const StoredFile& file) const = 0;
  // Deletes the object; false (and `error` set) if S3 refused.
  virtual bool remove(std::string_view stored_name, std::string& error) = 0;
};

}  // namespace resumable::demo
