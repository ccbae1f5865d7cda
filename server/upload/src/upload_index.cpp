#include "upload_index.h"

namespace resumable {

void UploadIndex::count_unfinished(Upload& upload) {
  if (upload.counts_as_unfinished || upload.provisional) return;
  upload.counts_as_unfinished = true;
  ++unfinished_[upload.manifest.principal];
}

void UploadIndex::uncount_unfinished(Upload& upload) {
  if (!upload.counts_as_unfinished) return;
  upload.counts_as_unfinished = false;
  const auto it = unfinished_.find(upload.manifest.principal);
  if (it != unfinished_.end() && --it->second == 0) unfinished_.erase(it);
}

void UploadIndex::add_token(const std::string& token, const std::shared_ptr<Upload>& upload) {
  if (by_token_.emplace(token, upload).second) ++unclaimed_[upload->manifest.principal];
}

void UploadIndex::erase_token(std::map<std::string, std::shared_ptr<Upload>>::iterator it) {
  const auto count = unclaimed_.find(it->second->manifest.principal);
  if (count != unclaimed_.end() && --count->second == 0) unclaimed_.erase(count);
  by_token_.erase(it);
}

std::shared_ptr<Upload> UploadIndex::find(const Key& key) {
  std::lock_guard lock(mutex_);
  const auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

bool UploadIndex::insert_loaded(const std::shared_ptr<Upload>& upload) {
  std::lock_guard lock(mutex_);
  auto& slot = by_key_[key_of(*upload)];
  if (slot && slot->manifest.created_unix >= upload->manifest.created_unix) return false;
  if (slot) {
    if (slot->final) {
      if (auto it = by_token_.find(slot->final->token); it != by_token_.end()) erase_token(it);
    }
    uncount_unfinished(*slot);
  }
  slot = upload;
  if (upload->final) {
    add_token(upload->final->token, upload);
  } else {
    count_unfinished(*upload);
  }
  return true;
}

void UploadIndex::drop_key(const std::shared_ptr<Upload>& upload) {
  std::lock_guard lock(mutex_);
  if (auto it = by_key_.find(key_of(*upload)); it != by_key_.end() && it->second == upload) by_key_.erase(it);
}

void UploadIndex::promote(const std::shared_ptr<Upload>& upload) {
  std::lock_guard lock(mutex_);
  upload->provisional = false;
  if (!upload->final) count_unfinished(*upload);
}

void UploadIndex::finished(const std::shared_ptr<Upload>& upload, const std::string& token) {
  std::lock_guard lock(mutex_);
  add_token(token, upload);
  uncount_unfinished(*upload);
}

void UploadIndex::forget(const std::shared_ptr<Upload>& upload, const std::string& token) {
  std::lock_guard lock(mutex_);
  if (auto it = by_key_.find(key_of(*upload)); it != by_key_.end() && it->second == upload) by_key_.erase(it);
  if (!token.empty()) {
    if (auto it = by_token_.find(token); it != by_token_.end() && it->second == upload) erase_token(it);
  }
  uncount_unfinished(*upload);
}

std::shared_ptr<Upload> UploadIndex::take_by_token(const std::string& token, const std::string& principal) {
  std::lock_guard lock(mutex_);
  const auto it = by_token_.find(token);
  if (it == by_token_.end() || it->second->manifest.principal != principal) return nullptr;
  auto upload = it->second;
  erase_token(it);
  if (auto k = by_key_.find(key_of(*upload)); k != by_key_.end() && k->second == upload) by_key_.erase(k);
  return upload;
}

std::vector<std::shared_ptr<Upload>> UploadIndex::all() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Upload>> uploads;
  uploads.reserve(by_key_.size());
  for (const auto& [key, upload] : by_key_) uploads.push_back(upload);
  return uploads;
}

}  // namespace resumable
