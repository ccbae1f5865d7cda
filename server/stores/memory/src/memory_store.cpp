#include "resumable/memory_store.h"

#include <algorithm>
#include <cstring>

namespace resumable {

struct MemoryStore::Entry {
  UploadManifest manifest;
  std::vector<std::uint8_t> bytes;
  std::vector<PieceRecord> pieces;
  std::optional<FinalRecord> final;
  std::chrono::system_clock::time_point last_activity;
};

class MemoryUpload final : public StoredUpload, public ReadBack {
 public:
  MemoryUpload(std::shared_ptr<MemoryStore> store, std::shared_ptr<MemoryStore::Entry> entry)
      : store_(std::move(store)), entry_(std::move(entry)) {}

  StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) override {
    std::lock_guard lock(store_->mutex_);
    if (entry_->final) return {StorageCode::io_error, "upload already released"};
    if (offset + length > entry_->bytes.size()) entry_->bytes.resize(offset + length);
    if (length > 0) std::memcpy(entry_->bytes.data() + offset, data, length);
    return StorageStatus::success();
  }

  StorageStatus read_at(std::uint64_t offset, void* data, std::size_t length) override {
    std::lock_guard lock(store_->mutex_);
    if (offset + length > entry_->bytes.size()) return {StorageCode::io_error, "read past the end"};
    if (length > 0) std::memcpy(data, entry_->bytes.data() + offset, length);
    store_->bytes_read_back_ += length;
    return StorageStatus::success();
  }

  StorageStatus commit_piece(const PieceRecord& piece) override {
    std::lock_guard lock(store_->mutex_);
    entry_->pieces.push_back(piece);
    entry_->last_activity = std::chrono::system_clock::now();
    return StorageStatus::success();
  }

  StorageStatus update_manifest(const UploadManifest& manifest) override {
    std::lock_guard lock(store_->mutex_);
    entry_->manifest = manifest;
    return StorageStatus::success();
  }

  StorageStatus release(FinalRecord& final) override {
    std::lock_guard lock(store_->mutex_);
    if (!entry_->final && store_->releases_to_fail_ > 0) {
      --store_->releases_to_fail_;
      return {StorageCode::no_space, "release failed on purpose (MemoryStore::fail_releases)"};
    }
    if (final.location.empty()) final.location = "memory:" + entry_->manifest.upload_id;
    if (!entry_->final) {
      entry_->final = final;
      auto bytes = std::move(entry_->bytes);
      bytes.resize(entry_->manifest.total_size.value_or(bytes.size()));
      store_->released_[final.location] = std::move(bytes);
    }
    return StorageStatus::success();
  }

  ReadBack* read_back() override { return store_->options_.read_back ? this : nullptr; }

 private:
  std::shared_ptr<MemoryStore> store_;
  std::shared_ptr<MemoryStore::Entry> entry_;
};

StorageStatus MemoryStore::create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) {
  auto entry = std::make_shared<Entry>();
  entry->manifest = manifest;
  entry->last_activity = std::chrono::system_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (!uploads_.emplace(manifest.upload_id, entry).second) return {StorageCode::io_error, "upload id in use"};
  }
  out = std::make_unique<MemoryUpload>(shared_from_this(), std::move(entry));
  return StorageStatus::success();
}

StorageStatus MemoryStore::open(const std::string& upload_id, RecordedUpload& out) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mutex_);
    const auto it = uploads_.find(upload_id);
    if (it == uploads_.end()) return {StorageCode::not_found, "no such upload"};
    entry = it->second;
    out.manifest = entry->manifest;
    out.pieces = entry->pieces;
    out.pieces_durable = true;  // memory loses nothing a restart of the core could see
    out.final = entry->final;
    out.last_activity = entry->last_activity;
  }
  out.upload = std::make_unique<MemoryUpload>(shared_from_this(), std::move(entry));
  return StorageStatus::success();
}

std::vector<std::string> MemoryStore::list() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, entry] : uploads_) ids.push_back(id);
  return ids;
}

StorageStatus MemoryStore::remove(const std::string& upload_id, bool released_file) {
  std::lock_guard lock(mutex_);
  const auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return StorageStatus::success();
  if (released_file && it->second->final) released_.erase(it->second->final->location);
  uploads_.erase(it);
  return StorageStatus::success();
}

void MemoryStore::fail_releases(std::size_t count) {
  std::lock_guard lock(mutex_);
  releases_to_fail_ = count;
}

std::optional<std::vector<std::uint8_t>> MemoryStore::released(const std::string& location) const {
  std::lock_guard lock(mutex_);
  const auto it = released_.find(location);
  if (it == released_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t MemoryStore::bytes_read_back() const {
  std::lock_guard lock(mutex_);
  return bytes_read_back_;
}

std::size_t MemoryStore::upload_count() const {
  std::lock_guard lock(mutex_);
  return uploads_.size();
}

}  // namespace resumable
