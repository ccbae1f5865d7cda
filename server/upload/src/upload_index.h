// Which uploads exist: by (principal, identifier), by claim token, and how many unfinished and
// unclaimed ones each principal has (for the limits on uploads per principal and in all). Only the index's own mutex is taken
// here; an Upload's fields are the caller's business (but Upload::counts_as_unfinished, which
// this mutex guards).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "upload.h"

namespace resumable {

class UploadIndex {
 public:
  using Key = std::pair<std::string, std::string>;  // principal, identifier

  std::shared_ptr<Upload> find(const Key& key);
  // The upload under `key`, or a new one from `make()` when there is none and the principal has
  // fewer than `limit` unfinished uploads (`over_limit` otherwise). `created` says which. `make`
  // runs under the index lock (it creates the upload's store record) and may return nullptr.
  struct Limits {
    std::size_t unfinished_per_principal;
    std::size_t unclaimed_per_principal;
    std::size_t total;
  };
  template <typename Make>
  std::shared_ptr<Upload> find_or_create(const Key& key, const Limits& limits, bool& created, bool& over_limit, Make make) {
    std::lock_guard lock(mutex_);
    created = over_limit = false;
    if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
    const auto count = [](const std::map<std::string, std::size_t>& counts, const std::string& principal) {
      const auto it = counts.find(principal);
      return it == counts.end() ? std::size_t{0} : it->second;
    };
    if (count(unfinished_, key.first) >= limits.unfinished_per_principal ||
        count(unclaimed_, key.first) >= limits.unclaimed_per_principal || by_key_.size() >= limits.total) {
      over_limit = true;
      return nullptr;
    }
    auto upload = make();
    if (!upload) return nullptr;
    by_key_[key] = upload;
    count_unfinished(*upload);
    created = true;
    return upload;
  }
  // Adds an upload loaded from the store; of two with the same key the newer stays. False if
  // `upload` was not kept.
  bool insert_loaded(const std::shared_ptr<Upload>& upload);
  // Takes `upload` out of the by-key index if it is still the one there.
  void drop_key(const std::shared_ptr<Upload>& upload);
  // A provisional upload became an ordinary one: from now on it counts as unfinished. Call with
  // the upload's mutex held (it reads the upload's final record).
  void promote(const std::shared_ptr<Upload>& upload);
  // `upload` was released: it is found by `token` and no longer counts as unfinished.
  void finished(const std::shared_ptr<Upload>& upload, const std::string& token);
  // Takes `upload` out of every index (`token`: its claim token, if it has one).
  void forget(const std::shared_ptr<Upload>& upload, const std::string& token);
  // The finished upload with `token` if `principal` owns it, taken out of every index (one claim).
  std::shared_ptr<Upload> take_by_token(const std::string& token, const std::string& principal);
  std::vector<std::shared_ptr<Upload>> all();

 private:
  static Key key_of(const Upload& upload) { return {upload.manifest.principal, upload.manifest.identifier}; }
  void count_unfinished(Upload& upload);
  void uncount_unfinished(Upload& upload);
  void add_token(const std::string& token, const std::shared_ptr<Upload>& upload);
  void erase_token(std::map<std::string, std::shared_ptr<Upload>>::iterator it);
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<Upload>> by_key_;
  std::map<std::string, std::shared_ptr<Upload>> by_token_;
  std::map<std::string, std::size_t> unfinished_;
  std::map<std::string, std::size_t> unclaimed_;  // finished uploads (in by_token_) per principal
};

}  // namespace resumable
