// A store that keeps everything in process memory: for tests of the upload core and of protocol
// front-ends (no disk, no durability), and a reference for what a store must do. Its optional
// capability (read-back) can be switched off, to exercise the paths the core takes without it. A new
// UploadCore over the same MemoryStore sees what the previous one committed, like a restart.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "resumable/upload_store.h"

namespace resumable {

struct MemoryStoreOptions {
  bool read_back = true;
};

class MemoryStore final : public UploadStore, public std::enable_shared_from_this<MemoryStore> {
 public:
  explicit MemoryStore(MemoryStoreOptions options = {}) : options_(options) {}

  StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) override;
  StorageStatus open(const std::string& upload_id, RecordedUpload& out) override;
  std::vector<std::string> list() override;
  StorageStatus remove(const std::string& upload_id, bool released_file) override;

  // For tests: a released file's bytes by location; how many bytes were read back so far.
  std::optional<std::vector<std::uint8_t>> released(const std::string& location) const;
  std::uint64_t bytes_read_back() const;
  std::size_t upload_count() const;
  // For tests: the next `count` releases fail with no_space before anything is released, as a full
  // disk does; a restart after one stands for a crash between an upload's last record and its release.
  void fail_releases(std::size_t count);

  struct Entry;

 private:
  friend class MemoryUpload;
  MemoryStoreOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> uploads_;
  std::map<std::string, std::vector<std::uint8_t>> released_;
  std::uint64_t bytes_read_back_ = 0;
  std::size_t releases_to_fail_ = 0;
};

}  // namespace resumable
