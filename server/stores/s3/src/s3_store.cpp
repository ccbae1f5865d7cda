#include "resumable/s3_store.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>

#include "record_codec.h"
#include "resumable/buffer_pool.h"
#include "resumable/upload_registry.h"

namespace resumable {

namespace {

std::string offset_name(std::uint64_t offset) {
  char name[24];
  std::snprintf(name, sizeof name, "%020" PRIu64, offset);
  return name;
}

// Where the bytes of one upload go: its multipart upload, and how pieces map to parts.
struct MultipartRecord {
  std::string upload_id;  // S3's
  std::string key;        // the object CompleteMultipartUpload creates: the released file
  std::uint64_t part_unit = s3_min_part_bytes;
};

std::string encode_multipart(const MultipartRecord& record) {
  return nlohmann::json{{"uploadId", record.upload_id}, {"key", record.key}, {"partUnit", record.part_unit}}.dump();
}

std::optional<MultipartRecord> decode_multipart(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  const auto id = json.find("uploadId");
  const auto key = json.find("key");
  const auto unit = json.find("partUnit");
  if (id == json.end() || !id->is_string() || key == json.end() || !key->is_string() || unit == json.end() ||
      !unit->is_number_unsigned()) {
    return std::nullopt;
  }
  MultipartRecord record{id->get<std::string>(), key->get<std::string>(), unit->get<std::uint64_t>()};
  if (record.upload_id.empty() || record.key.empty() || record.part_unit < s3_min_part_bytes ||
      record.part_unit > s3_max_part_bytes) {
    return std::nullopt;
  }
  return record;
}

// Parts of at least 5 MiB, and few enough of them for the whole file: 10,000 at most.
std::uint64_t part_unit_for(std::optional<std::uint64_t> total_size) {
  std::uint64_t unit = s3_min_part_bytes;
  if (total_size) {
    const std::uint64_t needed = (*total_size + s3_max_parts - 1) / s3_max_parts;
    const std::uint64_t mib = std::uint64_t{1} << 20;
    unit = std::max(unit, (needed + mib - 1) / mib * mib);
  }
  return unit;
}

// One bucket, one prefix: the key names of every record and every byte.
struct Layout {
  std::string prefix;
  std::string upload_dir(const std::string& id) const { return prefix + "uploads/" + id + "/"; }
  std::string manifest(const std::string& id) const { return upload_dir(id) + "manifest.json"; }
  std::string multipart(const std::string& id) const { return upload_dir(id) + "multipart.json"; }
  std::string final_record(const std::string& id) const { return upload_dir(id) + "final.json"; }
  std::string piece(const std::string& id, std::uint64_t offset) const { return upload_dir(id) + "pieces/" + offset_name(offset); }
  std::string staged(const std::string& id, std::uint64_t offset) const { return upload_dir(id) + "staged/" + offset_name(offset); }
  std::string released(const std::string& id, const std::string& file_name) const {
    return prefix + "files/" + id + safe_extension(file_name);
  }
};

struct Context {
  std::unique_ptr<S3Client> client;
  Layout layout;
  std::shared_ptr<UploadRegistry> registry;  // null: the records are objects beside the bytes

  // multipart.json never changes once written (create), so every instance may keep what it read.
  std::optional<MultipartRecord> cached_multipart(const std::string& id) {
    std::lock_guard lock(cache_mutex);
    const auto it = multipart_cache.find(id);
    if (it == multipart_cache.end()) return std::nullopt;
    return it->second;
  }
  void cache_multipart(const std::string& id, const MultipartRecord& record) {
    std::lock_guard lock(cache_mutex);
    // Uploads removed by other instances are never evicted here: bounded by starting afresh.
    if (multipart_cache.size() >= 10000) multipart_cache.clear();
    multipart_cache[id] = record;
  }
  void forget_multipart(const std::string& id) {
    std::lock_guard lock(cache_mutex);
    multipart_cache.erase(id);
  }

  // The size of one object; not_found when there is none.
  StorageStatus object_size(const std::string& key, std::uint64_t& size) {
    std::vector<S3ObjectInfo> objects;
    if (auto status = client->list_objects(key, objects); !status) return status;
    for (const auto& o : objects) {
      if (o.key != key) continue;
      size = o.size;
      return StorageStatus::success();
    }
    return {StorageCode::not_found, "no object " + key};
  }

 private:
  std::mutex cache_mutex;
  std::map<std::string, MultipartRecord> multipart_cache;
};

// The bytes of the pieces being received, from prepare_piece to commit_piece. Writer threads fill
// disjoint ranges of one piece at once: the map is locked, the copies are not.
class PieceBuffers {
 public:
  struct Buffer {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    PageBuffer bytes;  // mmap'ed and unmapped when done: never left in a thread's malloc arena
  };

  StorageStatus prepare(std::uint64_t offset, std::uint64_t size) {
    auto buffer = std::make_shared<Buffer>(Buffer{offset, size, PageBuffer(static_cast<std::size_t>(size))});
    if (!buffer->bytes && size > 0) return {StorageCode::io_error, "S3 store: no memory for a piece's buffer"};
    std::lock_guard lock(mutex_);
    // A piece sent again replaces what an abandoned attempt left (and anything it overlaps).
    for (auto it = buffers_.begin(); it != buffers_.end();) {
      const Buffer& b = *it->second;
      it = b.offset < offset + size && offset < b.offset + b.size ? buffers_.erase(it) : std::next(it);
    }
    buffers_[offset] = std::move(buffer);
    return StorageStatus::success();
  }

  StorageStatus write(std::uint64_t offset, const void* data, std::size_t length) {
    std::shared_ptr<Buffer> buffer;
    {
      std::lock_guard lock(mutex_);
      auto it = buffers_.upper_bound(offset);
      if (it != buffers_.begin()) buffer = std::prev(it)->second;
    }
    if (!buffer || offset + length > buffer->offset + buffer->size) {
      return {StorageCode::io_error, "S3 store: a write outside every prepared piece"};
    }
    if (length > 0) std::memcpy(buffer->bytes.data() + (offset - buffer->offset), data, length);
    return StorageStatus::success();
  }

  std::shared_ptr<Buffer> take(std::uint64_t offset, std::uint64_t size) {
    std::lock_guard lock(mutex_);
    const auto it = buffers_.find(offset);
    if (it == buffers_.end() || it->second->size != size) return nullptr;
    auto buffer = std::move(it->second);
    buffers_.erase(it);
    return buffer;
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<Buffer>> buffers_;  // by offset
};

// The bytes side of one upload: parts, staged pieces, completion and abort. Knows nothing of
// records beyond the pieces it is given (a shared registry can later replace the records side).
class MultipartBytes {
 public:
  MultipartBytes(std::shared_ptr<Context> context, std::string id, MultipartRecord record)
      : context_(std::move(context)), id_(std::move(id)), record_(std::move(record)) {}

  const MultipartRecord& record() const { return record_; }
  bool direct(std::uint64_t size) const { return size >= record_.part_unit; }
  int part_number(std::uint64_t offset) const { return static_cast<int>(offset / record_.part_unit) + 1; }

  // `stage`: the piece becomes an object of its own (S3Upload::commit_piece decides), else a part.
  StorageStatus store_piece(std::uint64_t offset, std::string_view bytes, bool stage) {
    S3Client& s3 = *context_->client;
    if (stage) return s3.put_object(context_->layout.staged(id_, offset), bytes);
    if (part_number(offset) > s3_max_parts) return {StorageCode::io_error, "S3 store: more than 10,000 parts"};
    std::string etag;
    return s3.upload_part(record_.key, record_.upload_id, part_number(offset), bytes, etag);
  }

  // The offsets of the staged pieces, as the bucket holds them.
  StorageStatus list_staged(std::set<std::uint64_t>& offsets) {
    std::vector<S3ObjectInfo> objects;
    const std::string dir = context_->layout.upload_dir(id_) + "staged/";
    if (auto status = context_->client->list_objects(dir, objects); !status) return status;
    offsets.clear();
    for (const auto& o : objects) offsets.insert(std::strtoull(o.key.c_str() + dir.size(), nullptr, 10));
    return StorageStatus::success();
  }

  // Parts for every piece (the staged ones combined), then CompleteMultipartUpload. `pieces`
  // ascending, contiguous from 0; `staged_offsets` from list_staged.
  StorageStatus complete(const std::vector<PieceRecord>& pieces, const std::set<std::uint64_t>& staged_offsets) {
    S3Client& s3 = *context_->client;
    const Layout& layout = context_->layout;
    std::vector<bool> staged(pieces.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      staged[i] = !direct(pieces[i].size) || staged_offsets.count(pieces[i].offset) > 0;
    }
    std::vector<S3Part> planned;
    for (std::size_t i = 0; i < pieces.size();) {
      if (!staged[i]) {
        planned.push_back({part_number(pieces[i].offset), "", pieces[i].size});
        ++i;
        continue;
      }
      std::size_t end = i;
      std::uint64_t run_bytes = 0;
      while (end < pieces.size() && staged[end]) run_bytes += pieces[end++].size;
      if (end < pieces.size() && run_bytes < record_.part_unit) {
        return {StorageCode::io_error, "S3 store: " + std::to_string(run_bytes) +
                                           " bytes of small pieces before a part cannot be a part of their own"};
      }
      if (end == i + 1 && end == pieces.size()) {
        // One staged piece at the end: copied inside S3.
        std::string etag;
        const int number = part_number(pieces[i].offset);
        if (auto status = s3.upload_part_copy(record_.key, record_.upload_id, number,
                                              layout.staged(id_, pieces[i].offset), etag);
            !status) {
          return status;
        }
        planned.push_back({number, "", pieces[i].size});
        i = end;
        continue;
      }
      // Combined through this server: parts of part_unit bytes or more, the last one of the run
      // taking what is left, so that none is too small.
      std::string part;
      std::uint64_t part_offset = pieces[i].offset;
      std::uint64_t left = run_bytes;
      for (std::size_t k = i; k < end; ++k) {
        if (part.size() >= record_.part_unit && left >= record_.part_unit) {
          if (auto status = send_part(part_offset, part, planned); !status) return status;
          part.clear();
          part_offset = pieces[k].offset;
        }
        std::string bytes;
        if (auto status = s3.get_object(layout.staged(id_, pieces[k].offset), bytes); !status) return status;
        if (bytes.size() != pieces[k].size) return {StorageCode::io_error, "S3 store: a staged piece has another size"};
        part += bytes;
        left -= bytes.size();
      }
      if (auto status = send_part(part_offset, part, planned); !status) return status;
      i = end;
    }

    std::vector<S3Part> uploaded;
    if (auto status = s3.list_parts(record_.key, record_.upload_id, uploaded); !status) return status;
    std::map<int, const S3Part*> by_number;
    for (const auto& p : uploaded) by_number[p.number] = &p;
    for (auto& p : planned) {
      const auto it = by_number.find(p.number);
      if (it == by_number.end()) return {StorageCode::io_error, "S3 store: part " + std::to_string(p.number) + " is missing"};
      if (it->second->size != p.size) return {StorageCode::io_error, "S3 store: part " + std::to_string(p.number) + " has another size"};
      p.etag = it->second->etag;
    }
    return s3.complete_multipart_upload(record_.key, record_.upload_id, planned);
  }

  // The staged pieces as the bucket holds them, by their end offset: {start, end}. What other
  // instances staged is known only from here.
  StorageStatus list_staged_extents(std::map<std::uint64_t, std::uint64_t>& starts_by_end) {
    std::vector<S3ObjectInfo> objects;
    const std::string dir = context_->layout.upload_dir(id_) + "staged/";
    if (auto status = context_->client->list_objects(dir, objects); !status) return status;
    starts_by_end.clear();
    for (const auto& o : objects) {
      const std::uint64_t start = std::strtoull(o.key.c_str() + dir.size(), nullptr, 10);
      starts_by_end[start + o.size] = start;
    }
    return StorageStatus::success();
  }

  // Completes the multipart upload of a released file unless that is done already, then deletes
  // the staged objects. Idempotent, and safe to run on several instances at once: they send the
  // same parts with the same bytes, and one that finds the multipart upload gone (NoSuchUpload,
  // or staged objects deleted under it) is done when the object is there with the file's size.
  StorageStatus finish(const std::vector<PieceRecord>& pieces, std::uint64_t total) {
    std::uint64_t next = 0;
    for (const auto& p : pieces) {
      if (p.offset != next) return {StorageCode::io_error, "S3 store: release with a gap in the pieces"};
      next += p.size;
    }
    if (next != total) return {StorageCode::io_error, "S3 store: release before every piece is recorded"};
    const auto completed_already = [&](StorageStatus& status) {
      std::uint64_t size = 0;
      status = context_->object_size(record_.key, size);
      if (status && size != total) status = {StorageCode::io_error, "S3 store: the released object has another size"};
      return bool(status);
    };
    StorageStatus present;
    completed_already(present);
    if (present.code != StorageCode::ok && present.code != StorageCode::not_found) return present;
    std::set<std::uint64_t> staged;
    if (auto status = list_staged(staged); !status) return status;
    if (!present) {
      if (StorageStatus completed = complete(pieces, staged); !completed) {
        StorageStatus there;
        if (!completed_already(there)) return completed;
      }
    }
    delete_staged(staged);
    return StorageStatus::success();
  }

  // After completion, or when the upload goes: staged bytes are no longer needed.
  void delete_staged(const std::set<std::uint64_t>& offsets) {
    for (const auto offset : offsets) context_->client->delete_object(context_->layout.staged(id_, offset));
  }

 private:
  StorageStatus send_part(std::uint64_t offset, const std::string& bytes, std::vector<S3Part>& planned) {
    std::string etag;
    const int number = part_number(offset);
    if (auto status = context_->client->upload_part(record_.key, record_.upload_id, number, bytes, etag); !status) {
      return status;
    }
    planned.push_back({number, "", bytes.size()});
    return StorageStatus::success();
  }

  std::shared_ptr<Context> context_;
  std::string id_;
  MultipartRecord record_;
};

class S3Upload final : public StoredUpload {
 public:
  S3Upload(std::shared_ptr<Context> context, UploadManifest manifest, MultipartRecord record,
           std::vector<PieceRecord> pieces, const std::set<std::uint64_t>& staged)
      : context_(context), manifest_(std::move(manifest)), bytes_(context, manifest_.upload_id, std::move(record)),
        pieces_(std::move(pieces)) {
    for (const auto& p : pieces_) ends_[p.offset + p.size] = {p.offset, staged.count(p.offset) > 0 || !bytes_.direct(p.size)};
  }

  StorageStatus prepare_piece(std::uint64_t offset, std::uint64_t size) override {
    return buffers_.prepare(offset, size);
  }

  StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) override {
    return buffers_.write(offset, data, length);
  }

  StorageStatus commit_piece(const PieceRecord& piece) override {
    const auto buffer = buffers_.take(piece.offset, piece.size);
    if (!buffer) return {StorageCode::io_error, "S3 store: commit of a piece that was not prepared"};
    const std::string& id = manifest_.upload_id;
    bool stage = !bytes_.direct(piece.size);
    {
      std::lock_guard lock(mutex_);
      const auto known = ends_.find(piece.offset + piece.size);
      // The file's last piece is staged, so that small pieces before it join it in the last part,
      // which may be small (resumable.js: every chunk but the last has one size); alone in its
      // run it is copied inside S3 at release. A large piece that follows a run of staged pieces
      // still too short for a part of its own joins that run (tus appends in order: 16 MiB pieces
      // and a shorter one where each request ends). A piece sent again keeps its first form.
      stage = stage || (manifest_.total_size && piece.offset + piece.size == *manifest_.total_size) ||
              (known != ends_.end() && known->second.staged) || short_run_before(piece.offset);
    }
    if (!stage && context_->registry) {
      // Over a shared registry the pieces before this one, and an earlier attempt at this one,
      // may have been stored by other instances: their staged objects say what this one must be.
      std::map<std::uint64_t, std::uint64_t> staged;
      if (auto status = bytes_.list_staged_extents(staged); !status) return status;
      const auto same = staged.find(piece.offset + piece.size);
      stage = (same != staged.end() && same->second == piece.offset) || short_staged_run_before(piece.offset, staged);
    }
    if (auto status = bytes_.store_piece(piece.offset,
                                         std::string_view(reinterpret_cast<const char*>(buffer->bytes.data()), buffer->size),
                                         stage);
        !status) {
      return status;
    }
    if (context_->registry) {
      if (auto status = context_->registry->record_piece(id, piece); !status) return status;
    } else {
      const auto record = encode_piece_record(piece);
      if (auto status = context_->client->put_object(context_->layout.piece(id, piece.offset),
                                                     std::string_view(reinterpret_cast<const char*>(record.data()), record.size()));
          !status) {
        return status;
      }
    }
    std::lock_guard lock(mutex_);
    ends_[piece.offset + piece.size] = {piece.offset, stage};
    auto it = std::find_if(pieces_.begin(), pieces_.end(), [&](const PieceRecord& p) { return p.offset == piece.offset; });
    if (it != pieces_.end()) {
      *it = piece;
    } else {
      pieces_.push_back(piece);
    }
    return StorageStatus::success();
  }

  StorageStatus update_manifest(const UploadManifest& manifest) override {
    if (context_->registry) {
      if (auto status = context_->registry->update_manifest(manifest); !status) return status;
    } else if (auto status = context_->client->put_object(context_->layout.manifest(manifest.upload_id),
                                                          encode_manifest(manifest));
               !status) {
      return status;
    }
    std::lock_guard lock(mutex_);
    manifest_ = manifest;
    return StorageStatus::success();
  }

  StorageStatus release(FinalRecord& final) override {
    S3Client& s3 = *context_->client;
    const std::string& id = manifest_.upload_id;
    const std::string& key = bytes_.record().key;
    if (final.location.empty()) final.location = key;
    if (final.location != key) return {StorageCode::io_error, "S3 store: a final record for another location"};
    if (context_->registry) {
      // The registry decides who released (the first final record wins, upload_registry.h); the
      // completion is then finished by whoever gets there, from every instance's piece records.
      if (auto status = context_->registry->record_final(id, final); !status) return status;
      if (final.location != key) return {StorageCode::corrupt, "S3 store: a final record for another location"};
      UploadRecords records;
      if (auto status = context_->registry->open(id, records); !status) return status;
      return bytes_.finish(records.pieces, records.manifest.total_size.value_or(0));
    }
    // The first final record wins; a release called again (after a crash) adopts it.
    StorageStatus recorded = s3.put_object(context_->layout.final_record(id), encode_final_record(final), true);
    if (recorded.code == StorageCode::conflict) {
      std::string text;
      if (auto status = s3.get_object(context_->layout.final_record(id), text); !status) return status;
      const auto existing = decode_final_record(text);
      if (!existing || existing->location != key) return {StorageCode::corrupt, "S3 store: final.json is damaged"};
      final = *existing;
    } else if (!recorded) {
      return recorded;
    }
    std::vector<PieceRecord> pieces;
    std::uint64_t total = 0;
    {
      std::lock_guard lock(mutex_);
      pieces = pieces_;
      total = manifest_.total_size.value_or(0);
    }
    std::sort(pieces.begin(), pieces.end(), [](const PieceRecord& a, const PieceRecord& b) { return a.offset < b.offset; });
    // Completed already (a release interrupted after CompleteMultipartUpload, an answer lost):
    // the object is there.
    return bytes_.finish(pieces, total);
  }

 private:
  // Whether the recorded pieces just before `offset` are staged ones that together are still too
  // short for a part (so a piece at `offset` must join them). Unknown pieces: no. Holds mutex_.
  bool short_run_before(std::uint64_t offset) const {
    std::uint64_t run = 0;
    while (offset > 0) {
      const auto it = ends_.find(offset);
      if (it == ends_.end()) return false;
      if (!it->second.staged) break;
      run += offset - it->second.start;
      if (run >= bytes_.record().part_unit) return false;
      offset = it->second.start;
    }
    return run > 0;
  }

  // short_run_before from the bucket's staged objects (starts by end offset): a piece where no
  // staged object ends is a part, the file's start, or not stored yet, and ends the run.
  bool short_staged_run_before(std::uint64_t offset, const std::map<std::uint64_t, std::uint64_t>& staged) const {
    std::uint64_t run = 0;
    for (auto it = staged.find(offset); offset > 0 && it != staged.end() && it->second < offset; it = staged.find(offset)) {
      run += offset - it->second;
      if (run >= bytes_.record().part_unit) return false;
      offset = it->second;
    }
    return run > 0;
  }

  struct Extent {
    std::uint64_t start = 0;
    bool staged = false;
  };
  std::shared_ptr<Context> context_;
  std::mutex mutex_;  // manifest_ and pieces_
  UploadManifest manifest_;
  MultipartBytes bytes_;
  std::vector<PieceRecord> pieces_;
  std::map<std::uint64_t, Extent> ends_;  // committed pieces by their end offset
  PieceBuffers buffers_;
};

class S3Store final : public UploadStore {
 public:
  explicit S3Store(std::shared_ptr<Context> context) : context_(std::move(context)) {}

  StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) override {
    S3Client& s3 = *context_->client;
    const Layout& layout = context_->layout;
    MultipartRecord record;
    record.key = layout.released(manifest.upload_id, manifest.file_name);
    record.part_unit = part_unit_for(manifest.total_size);
    if (auto status = s3.create_multipart_upload(record.key, record.upload_id); !status) return status;
    if (context_->registry) {
      // multipart.json before the registry's record, so every instance that finds the upload finds
      // its multipart upload. conflict: another instance has just created this upload.
      StorageStatus status = s3.put_object(layout.multipart(manifest.upload_id), encode_multipart(record));
      if (status) status = context_->registry->create(manifest);
      if (!status) {
        s3.abort_multipart_upload(record.key, record.upload_id);
        s3.delete_object(layout.multipart(manifest.upload_id));
        return status;
      }
      context_->cache_multipart(manifest.upload_id, record);
      out = std::make_unique<S3Upload>(context_, manifest, std::move(record), std::vector<PieceRecord>{},
                                       std::set<std::uint64_t>{});
      return StorageStatus::success();
    }
    // The manifest last: an upload without one is a creation that never finished (open: not_found).
    StorageStatus status = s3.put_object(layout.multipart(manifest.upload_id), encode_multipart(record));
    if (status) status = s3.put_object(layout.manifest(manifest.upload_id), encode_manifest(manifest));
    if (!status) {
      s3.abort_multipart_upload(record.key, record.upload_id);
      s3.delete_object(layout.multipart(manifest.upload_id));
      return status;
    }
    out = std::make_unique<S3Upload>(context_, manifest, std::move(record), std::vector<PieceRecord>{},
                                     std::set<std::uint64_t>{});
    return StorageStatus::success();
  }

  StorageStatus open(const std::string& upload_id, RecordedUpload& out) override {
    if (context_->registry) return open_registered(upload_id, out);
    S3Client& s3 = *context_->client;
    const Layout& layout = context_->layout;
    std::vector<S3ObjectInfo> objects;
    if (auto status = s3.list_objects(layout.upload_dir(upload_id), objects); !status) return status;
    const auto has = [&](const std::string& key) {
      return std::any_of(objects.begin(), objects.end(), [&](const S3ObjectInfo& o) { return o.key == key; });
    };
    if (!has(layout.manifest(upload_id))) return {StorageCode::not_found, "no manifest"};
    std::string text;
    if (auto status = s3.get_object(layout.manifest(upload_id), text); !status) return status;
    auto manifest = decode_manifest(text);
    if (!manifest || manifest->upload_id != upload_id) return {StorageCode::corrupt, "manifest.json is damaged"};
    if (auto status = s3.get_object(layout.multipart(upload_id), text); !status) {
      return status.code == StorageCode::not_found ? StorageStatus{StorageCode::corrupt, "multipart.json is missing"} : status;
    }
    auto record = decode_multipart(text);
    if (!record || record->key != layout.released(upload_id, manifest->file_name)) {
      return {StorageCode::corrupt, "multipart.json is damaged"};
    }
    std::vector<PieceRecord> pieces;
    std::set<std::uint64_t> staged;
    const std::string pieces_prefix = layout.upload_dir(upload_id) + "pieces/";
    const std::string staged_prefix = layout.upload_dir(upload_id) + "staged/";
    auto last_activity = std::chrono::system_clock::time_point{};
    for (const auto& object : objects) {
      last_activity = std::max(last_activity, object.last_modified);
      if (object.key.rfind(staged_prefix, 0) == 0) staged.insert(std::strtoull(object.key.c_str() + staged_prefix.size(), nullptr, 10));
      if (object.key.rfind(pieces_prefix, 0) != 0) continue;
      if (auto status = s3.get_object(object.key, text); !status) return status;
      std::size_t consumed = 0;
      const auto piece = decode_piece_record(
          std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), consumed);
      if (!piece || consumed != text.size() || layout.piece(upload_id, piece->offset) != object.key) {
        return {StorageCode::corrupt, "a piece record is damaged: " + object.key};
      }
      pieces.push_back(*piece);
    }
    std::sort(pieces.begin(), pieces.end(), [](const PieceRecord& a, const PieceRecord& b) { return a.offset < b.offset; });
    std::optional<FinalRecord> final;
    if (has(layout.final_record(upload_id))) {
      if (auto status = s3.get_object(layout.final_record(upload_id), text); !status) return status;
      final = decode_final_record(text);
      if (!final || final->location != record->key) return {StorageCode::corrupt, "final.json is damaged"};
    }
    out.manifest = *manifest;
    out.pieces = pieces;
    out.pieces_durable = true;  // S3 acknowledges a write once it is durable
    out.final = final;
    out.last_activity = last_activity;
    out.upload = std::make_unique<S3Upload>(context_, std::move(*manifest), std::move(*record), std::move(pieces), staged);
    return StorageStatus::success();
  }

  std::vector<std::string> list() override {
    if (context_->registry) {
      std::vector<std::string> ids;
      if (auto status = context_->registry->list(ids); !status) return {};
      return ids;
    }
    std::vector<S3ObjectInfo> objects;
    std::vector<std::string> prefixes;
    const std::string root = context_->layout.prefix + "uploads/";
    std::vector<std::string> ids;
    if (!context_->client->list_objects(root, objects, "/", &prefixes)) return ids;
    for (const auto& p : prefixes) {
      if (p.size() > root.size() + 1 && p.back() == '/') ids.push_back(p.substr(root.size(), p.size() - root.size() - 1));
    }
    return ids;
  }

  UploadRegistry* shared_registry() override { return context_->registry.get(); }

  StorageStatus remove(const std::string& upload_id, bool released_file) override {
    if (context_->registry) return remove_registered(upload_id, released_file);
    S3Client& s3 = *context_->client;
    const Layout& layout = context_->layout;
    std::vector<S3ObjectInfo> objects;
    if (auto status = s3.list_objects(layout.upload_dir(upload_id), objects); !status) return status;
    std::string text;
    std::optional<MultipartRecord> record;
    if (auto status = s3.get_object(layout.multipart(upload_id), text); status) {
      record = decode_multipart(text);
    } else if (status.code != StorageCode::not_found) {
      return status;
    }
    std::optional<FinalRecord> final;
    if (released_file) {
      if (auto status = s3.get_object(layout.final_record(upload_id), text); status) {
        final = decode_final_record(text);
      } else if (status.code != StorageCode::not_found) {
        return status;
      }
    }
    // The manifest first: from then on open() says not_found, and a remove that stops half-way
    // is finished by the next one.
    if (auto status = s3.delete_object(layout.manifest(upload_id)); !status) return status;
    if (record) {
      if (auto status = s3.abort_multipart_upload(record->key, record->upload_id); !status) return status;
    }
    for (const auto& object : objects) {
      if (object.key == layout.manifest(upload_id) || object.key == layout.multipart(upload_id)) continue;
      if (auto status = s3.delete_object(object.key); !status) return status;
    }
    if (final && record && final->location == record->key) {
      if (auto status = s3.delete_object(final->location); !status) return status;
    }
    // multipart.json last: it is how a repeated remove still finds the multipart upload to abort.
    return s3.delete_object(layout.multipart(upload_id));
  }

 private:
  // The multipart upload's record, cached (it never changes) or read from multipart.json.
  StorageStatus multipart_of(const std::string& upload_id, std::optional<MultipartRecord>& out) {
    out = context_->cached_multipart(upload_id);
    if (out) return StorageStatus::success();
    std::string text;
    if (auto status = context_->client->get_object(context_->layout.multipart(upload_id), text); !status) return status;
    out = decode_multipart(text);
    if (!out) return {StorageCode::corrupt, "multipart.json of " + upload_id + " is damaged"};
    context_->cache_multipart(upload_id, *out);
    return StorageStatus::success();
  }

  // open() with the records in the registry: validated as the bucket's are; the bytes stay here.
  StorageStatus open_registered(const std::string& upload_id, RecordedUpload& out) {
    UploadRecords records;
    if (auto status = context_->registry->open(upload_id, records); !status) return status;
    const auto corrupt = [&](const std::string& what) { return StorageStatus{StorageCode::corrupt, what + " of " + upload_id}; };
    if (records.manifest.upload_id != upload_id) return corrupt("a foreign manifest");
    std::optional<MultipartRecord> record;
    // multipart.json is written before the registry's record and deleted after it is removed.
    if (auto status = multipart_of(upload_id, record); !status) {
      return status.code == StorageCode::not_found ? corrupt("no multipart.json") : status;
    }
    if (record->key != context_->layout.released(upload_id, records.manifest.file_name)) {
      return corrupt("multipart.json for another object");
    }
    if (records.final && records.final->location != record->key) return corrupt("final record with a foreign location");
    std::set<std::uint64_t> staged;  // unknown here: commit_piece asks the bucket when it matters
    out.upload = std::make_unique<S3Upload>(context_, records.manifest, std::move(*record), records.pieces, staged);
    out.manifest = std::move(records.manifest);
    out.pieces = std::move(records.pieces);
    out.pieces_durable = true;  // S3 acknowledges a write once it is durable
    out.final = std::move(records.final);
    out.last_activity = records.last_activity;
    return StorageStatus::success();
  }

  // The bytes first (the multipart upload aborted, staged objects deleted), then the records: an
  // instance still receiving a piece of it finds the multipart upload gone (and the client gets an
  // error), and a remove that stops half-way is finished by the next one, which still finds
  // multipart.json and the records. After a claim the records are gone already and the object is
  // the application's: aborting a completed multipart upload does not touch it.
  StorageStatus remove_registered(const std::string& upload_id, bool released_file) {
    S3Client& s3 = *context_->client;
    const Layout& layout = context_->layout;
    std::optional<MultipartRecord> record;
    if (auto status = multipart_of(upload_id, record); !status && status.code != StorageCode::not_found) {
      if (status.code != StorageCode::corrupt) return status;
      record.reset();  // damaged: nothing to abort by it
    }
    std::optional<FinalRecord> final;
    if (released_file) {
      UploadRecords records;
      if (auto status = context_->registry->open(upload_id, records); status) {
        final = records.final;
      } else if (status.code != StorageCode::not_found && status.code != StorageCode::corrupt) {
        return status;
      }
    }
    if (record) {
      if (auto status = s3.abort_multipart_upload(record->key, record->upload_id); !status) return status;
    }
    std::vector<S3ObjectInfo> objects;
    if (auto status = s3.list_objects(layout.upload_dir(upload_id), objects); !status) return status;
    for (const auto& object : objects) {
      if (object.key == layout.multipart(upload_id)) continue;
      if (auto status = s3.delete_object(object.key); !status) return status;
    }
    if (final && record && final->location == record->key) {
      if (auto status = s3.delete_object(final->location); !status) return status;
    }
    if (auto status = context_->registry->remove(upload_id); !status) return status;
    context_->forget_multipart(upload_id);
    return s3.delete_object(layout.multipart(upload_id));
  }

  std::shared_ptr<Context> context_;
};

}  // namespace

std::shared_ptr<UploadStore> make_s3_store(const S3StoreOptions& options, std::string* error) {
  auto context = std::make_shared<Context>();
  context->client = S3Client::create(options.s3, error);
  if (!context->client) return nullptr;
  context->layout.prefix = options.prefix;
  context->registry = options.registry;
  return std::make_shared<S3Store>(std::move(context));
}

}  // namespace resumable
