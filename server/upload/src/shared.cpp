// The core over a shared registry (upload_registry.h): the index is a cache of the registry's
// records, brought up to date before each decision that other instances' work can change. Every
// one-time decision (creating an upload, recording its release, a claim, collecting it) is the
// registry's, by its conditional writes; this file only reads the outcome into the index.
#include <algorithm>
#include <set>

#include "upload_core_impl.h"

namespace resumable {

void UploadCore::Impl::drop_removed_elsewhere(const std::shared_ptr<Upload>& upload) {
  std::string token;
  {
    std::lock_guard lock(upload->mutex);
    if (!upload->removed) {
      // Writers and waiters here give up; the remover deletes the bytes.
      upload->removed = true;
      upload->changed.notify_all();
    }
    if (upload->final) token = upload->final->token;
  }
  index.forget(upload, token);
}

std::optional<ErrorCode> UploadCore::Impl::refresh(const std::shared_ptr<Upload>& upload) {
  if (registry == nullptr) return std::nullopt;
  UploadRecords records;
  const StorageStatus opened = registry->open(upload->manifest.upload_id, records);  // the id never changes
  if (opened.code == StorageCode::not_found) {
    drop_removed_elsewhere(upload);
    return std::nullopt;
  }
  if (!opened) {
    log("reading upload " + upload->manifest.upload_id + " from the registry failed: " + opened.detail);
    return storage_error(opened);
  }
  std::optional<FinalRecord> released_elsewhere;
  {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) return std::nullopt;
    // What another instance pinned: a size declared late, a file digest declared late.
    UploadManifest& m = upload->manifest;
    if (!m.total_size && records.manifest.total_size) m.total_size = records.manifest.total_size;
    if (!m.declared_file_digest && records.manifest.declared_file_digest) {
      m.declared_file_digest = records.manifest.declared_file_digest;
    }
    // Pieces others stored; one this instance is writing or holds stays as it is. Their bytes were
    // made durable before their record (a durable store), as this instance's own are.
    for (auto& piece : records.pieces) add_recorded_piece(*upload, piece, true, false);
    if (records.final && !upload->final) released_elsewhere = records.final;
    upload->last_activity = std::max(upload->last_activity, records.last_activity);
    upload->changed.notify_all();
  }
  if (released_elsewhere) {
    // Idempotent: finishes the hand-over if the instance that recorded it died before it (or is
    // still at it). The token is shown here only once the hand-over is done, so that a claim never
    // finds a file that is not there yet (an S3 multipart upload not completed).
    if (auto status = upload->data->release(*released_elsewhere); !status) {
      log("finishing release of " + upload->manifest.upload_id + " failed: " + status.detail);
      return storage_error(status);
    }
    {
      std::lock_guard lock(upload->mutex);
      if (upload->final) return std::nullopt;  // adopted meanwhile (this instance's own release)
      upload->final = released_elsewhere;
      upload->changed.notify_all();
    }
    index.finished(upload, released_elsewhere->token);
  }
  return std::nullopt;
}

std::optional<ErrorCode> UploadCore::Impl::sync(const UploadIndex::Key& key) {
  if (registry == nullptr) return std::nullopt;
  // Looked up before the registry is asked: an upload indexed by then is in the registry already
  // (it is recorded there before it is indexed), so if the registry no longer has it, it was removed.
  const auto local = index.find(key);
  std::string id;
  const StorageStatus found = registry->find(key.first, key.second, id);
  if (found.code == StorageCode::not_found) {
    if (local) drop_removed_elsewhere(local);
    return std::nullopt;
  }
  if (!found) {
    log("looking up an upload in the registry failed: " + found.detail);
    return storage_error(found);
  }
  if (local && local->manifest.upload_id == id) return refresh(local);
  if (local) drop_removed_elsewhere(local);  // replaced by a new upload under the same name
  RecordedUpload recorded;
  const StorageStatus opened = store->open(id, recorded);
  if (opened.code == StorageCode::not_found) return std::nullopt;  // removed meanwhile
  if (!opened || !recorded.upload) {
    log("opening upload " + id + " failed: " + opened.detail);
    return storage_error(opened);
  }
  if (auto upload = adopt(id, recorded)) index.insert_loaded(upload);
  return std::nullopt;
}

void UploadCore::Impl::sync_all() {
  if (registry == nullptr) return;
  std::vector<std::string> ids;
  if (const StorageStatus listed = registry->list(ids); !listed) {
    log("listing the registry's uploads failed: " + listed.detail);
    return;
  }
  std::set<std::string> known;
  for (const auto& upload : index.all()) known.insert(upload->manifest.upload_id);
  {
    std::lock_guard lock(quarantine_mutex);
    for (const auto& [id, since] : quarantined) known.insert(id);
  }
  for (const auto& id : ids) {
    if (known.count(id) != 0) continue;
    RecordedUpload recorded;
    const StorageStatus opened = store->open(id, recorded);
    if (opened.code == StorageCode::not_found) continue;
    if (!opened || !recorded.upload) {
      if (opened.code == StorageCode::corrupt) quarantine(id, opened.detail);
      continue;
    }
    if (auto upload = adopt(id, recorded)) index.insert_loaded(upload);
  }
}

std::variant<ErrorCode, ClaimedUpload> UploadCore::Impl::claim_shared(const std::string& token,
                                                                    const std::string& principal) {
  UploadRecords records;
  const StorageStatus claimed = registry->claim(token, principal, records);
  if (!claimed && claimed.code != StorageCode::not_found) {
    log("claiming through the registry failed: " + claimed.detail);
    return storage_error(claimed);
  }
  const auto local = index.take_by_token(token, principal);
  if (local) {
    std::lock_guard lock(local->mutex);
    local->removed = true;
    local->changed.notify_all();
  }
  if (claimed.code == StorageCode::not_found) return ErrorCode::upload_not_found;  // claimed or removed elsewhere
  if (!local) {
    // Known here under its name only (released elsewhere, not refreshed since): it goes too.
    if (auto by_key = index.find({records.manifest.principal, records.manifest.identifier});
        by_key && by_key->manifest.upload_id == records.manifest.upload_id) {
      drop_removed_elsewhere(by_key);
    }
  }
  if (!records.final) return ErrorCode::internal_error;  // a registry bug: only released uploads have tokens
  ClaimedUpload out;
  out.location = records.final->location;
  out.file_name = records.manifest.file_name;
  out.identifier = records.manifest.identifier;
  out.size = records.manifest.total_size.value_or(0);
  out.digest = records.final->file_digest;
  // The file now belongs to the application; only the upload's directory goes.
  if (auto status = store->remove(records.manifest.upload_id, false); !status) {
    log("removing claimed upload " + records.manifest.upload_id + " failed: " + status.detail);
  }
  return out;
}

}  // namespace resumable
