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
    if (auto status = bytes_.store_piece(piece.offset,
                                         std::string_view(reinterpret_cast<const char*>(buffer->bytes.data()), buffer->size),
                                         stage);
        !status) {
      return status;
    }
    const auto record = encode_piece_record(piece);
    if (auto status = context_->client->put_object(context_->layout.piece(id, piece.offset),
                                                   std::string_view(reinterpret_cast<const char*>(record.data()), record.size()));
        !status) {
      return status;
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
    if (auto status = context_->client->put_object(context_->layout.manifest(manifest.upload_id), encode_manifest(manifest));
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
    std::uint64_t next = 0;
    for (const auto& p : pieces) {
      if (p.offset != next) return {StorageCode::io_error, "S3 store: release with a gap in the pieces"};
      next += p.size;
    }
    if (next != total) return {StorageCode::io_error, "S3 store: release before every piece is recorded"};

    // Completed already (a release interrupted after CompleteMultipartUpload): the object is there.
    StorageStatus present = s3.head_object(key);
    if (present.code != StorageCode::ok && present.code != StorageCode::not_found) return present;
    std::set<std::uint64_t> staged;
    if (auto status = bytes_.list_staged(staged); !status) return status;
    if (!present) {
      StorageStatus completed = bytes_.complete(pieces, staged);
      if (completed.code == StorageCode::not_found) {
        // NoSuchUpload: completed by an attempt whose answer was lost, if the object is there.
        if (auto status = s3.head_object(key); !status) return completed;
      } else if (!completed) {
        return completed;
      }
    }
    bytes_.delete_staged(staged);
    return StorageStatus::success();
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

  StorageStatus remove(const std::string& upload_id, bool released_file) override {
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
  std::shared_ptr<Context> context_;
};

}  // namespace

std::shared_ptr<UploadStore> make_s3_store(const S3StoreOptions& options, std::string* error) {
  auto context = std::make_shared<Context>();
  context->client = S3Client::create(options.s3, error);
  if (!context->client) return nullptr;
  context->layout.prefix = options.prefix;
  return std::make_shared<S3Store>(std::move(context));
}

}  // namespace resumable
