// Upload URLs the command remembers between runs. A tus upload is named by the URL its creation
// returned, which nothing about the file can recompute (our endpoint's identifier can be, so it
// needs no state). One small JSON file, by default $XDG_STATE_HOME/resumable/uploads.json (else
// ~/.local/state/...); each change re-reads it under an exclusive lock on FILE.lock and replaces it
// by a rename, so commands running at once keep each other's entries and a crash leaves either the
// old file or the new one. Entries not touched for 30 days are dropped (servers collect far sooner).
//
// Contract: one thread per object. Nothing throws; a file that cannot be read counts as empty, and
// a failed write returns false with *error set (the upload goes on, only a later run cannot resume).
#pragma once

#include <optional>
#include <string>

namespace resumable::cli {

class UploadUrlStore {
 public:
  explicit UploadUrlStore(std::string path);  // empty: nothing is kept

  std::optional<std::string> find(const std::string& key) const;
  bool remember(const std::string& key, const std::string& url, std::string* error);
  bool forget(const std::string& key, std::string* error);

  const std::string& path() const { return path_; }
  // $XDG_STATE_HOME/resumable/uploads.json, else $HOME/.local/state/resumable/uploads.json; empty
  // when neither variable is set.
  static std::string default_path();

 private:
  bool update(const std::string& key, const std::optional<std::string>& url, std::string* error);
  std::string path_;
};

}  // namespace resumable::cli
