#include "upload_registry.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>

#include "resumable/chunk_geometry.h"

namespace resumable {

namespace {

enum class ChunkState : std::uint8_t { absent, writing, present };

// How long the request that delivered the last chunk waits for the whole-file hash and release, so
// that it can answer with the final result (both clients hand that body to the application).
constexpr std::chrono::seconds finalize_wait{120};

std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

ErrorCode storage_error(const StorageStatus& status) {
  return status.code == StorageCode::no_space ? ErrorCode::insufficient_storage : ErrorCode::internal_error;
}

std::string lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool type_allowed(const UploadLimits& limits, const ChunkRequest& request) {
  if (!limits.allowed_extensions.empty()) {
    const auto dot = request.file_name.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : lower(request.file_name.substr(dot + 1));
    if (std::none_of(limits.allowed_extensions.begin(), limits.allowed_extensions.end(),
                     [&](const std::string& allowed) { return lower(allowed) == ext; })) {
      return false;
    }
  }
  if (!limits.allowed_types.empty() && !request.mime_type.empty()) {
    const std::string type = lower(request.mime_type);
    const bool ok = std::any_of(limits.allowed_types.begin(), limits.allowed_types.end(), [&](const std::string& a) {
      const std::string allowed = lower(a);
      if (allowed.size() >= 2 && allowed.compare(allowed.size() - 2, 2, "/*") == 0) {
        return type.compare(0, allowed.size() - 1, allowed, 0, allowed.size() - 1) == 0;
      }
      return type == allowed;
    });
    if (!ok) return false;
  }
  return true;
}

// Serialised whole-file hash progress: magic, libsodium version, chunks folded in, raw state, check.
// The raw state is only meaningful to the same libsodium build, hence the version in the blob.
constexpr char progress_magic[8] = {'R', 'S', 'M', 'H', 'A', 'S', 'H', '1'};
constexpr std::size_t progress_version_bytes = 16;

std::array<char, progress_version_bytes> sodium_version_field() {
  std::array<char, progress_version_bytes> field{};
  const char* version = sodium_version_string();
  std::memcpy(field.data(), version, std::min(std::strlen(version), field.size()));
  return field;
}

std::vector<std::uint8_t> encode_progress(std::uint64_t hashed_chunks, const crypto_generichash_state& state) {
  std::vector<std::uint8_t> blob(sizeof(progress_magic) + progress_version_bytes + 8 + sizeof(state));
  std::size_t at = 0;
  std::memcpy(blob.data(), progress_magic, sizeof(progress_magic));
  at += sizeof(progress_magic);
  const auto version = sodium_version_field();
  std::memcpy(blob.data() + at, version.data(), version.size());
  at += progress_version_bytes;
  for (int i = 0; i < 8; ++i) blob[at + i] = static_cast<std::uint8_t>(hashed_chunks >> (8 * i));
  at += 8;
  std::memcpy(blob.data() + at, &state, sizeof(state));
  const auto check = core::blake2b256(blob.data(), blob.size());
  blob.insert(blob.end(), check.begin(), check.begin() + 8);
  return blob;
}

bool decode_progress(const std::vector<std::uint8_t>& blob, std::uint64_t& hashed_chunks,
                     crypto_generichash_state& state) {
  const std::size_t body = sizeof(progress_magic) + progress_version_bytes + 8 + sizeof(state);
  if (blob.size() != body + 8) return false;
  const auto check = core::blake2b256(blob.data(), body);
  if (!std::equal(check.begin(), check.begin() + 8, blob.begin() + static_cast<std::ptrdiff_t>(body))) return false;
  if (std::memcmp(blob.data(), progress_magic, sizeof(progress_magic)) != 0) return false;
  const auto version = sodium_version_field();
  if (std::memcmp(blob.data() + sizeof(progress_magic), version.data(), version.size()) != 0) return false;
  std::size_t at = sizeof(progress_magic) + progress_version_bytes;
  hashed_chunks = 0;
  for (int i = 0; i < 8; ++i) hashed_chunks |= std::uint64_t{blob[at + i]} << (8 * i);
  at += 8;
  std::memcpy(&state, blob.data() + at, sizeof(state));
  return true;
}

}  // namespace

// One upload in memory. `mutex` guards everything but `data` (internally thread-safe for disjoint
// writes) and `file_hash` (touched only by the thread that holds `hashing`).
struct Upload {
  std::mutex mutex;
  std::condition_variable changed;
  std::unique_ptr<UploadData> data;
  UploadManifest manifest;
  std::vector<ChunkState> chunks;
  std::vector<core::Digest> digests;
  std::uint64_t received = 0;
  std::size_t active_writers = 0;
  std::chrono::system_clock::time_point last_activity;

  bool hashing = false;             // a thread is advancing the whole-file hash or releasing
  bool hash_progress_loaded = false;
  std::uint64_t hashed_chunks = 0;  // chunks 1..hashed_chunks are folded into file_hash
  crypto_generichash_state file_hash;
  std::uint64_t saved_hashed_chunks = 0;  // as of the last hash-progress save (or load)

  std::optional<FinalRecord> final;
  bool removed = false;  // cancelled or collected; writers and waiters give up
};

// ---- ChunkWriter ------------------------------------------------------------------------------

ChunkWriter::ChunkWriter(UploadRegistry& registry, std::shared_ptr<Upload> upload, std::uint64_t number,
                         std::uint64_t offset, std::uint64_t size, std::optional<core::Digest> expected_digest)
    : registry_(&registry),
      upload_(std::move(upload)),
      number_(number),
      span_offset_(offset),
      span_size_(size),
      expected_digest_(expected_digest) {}

ChunkWriter::ChunkWriter(ChunkWriter&& other) noexcept
    : registry_(other.registry_),
      upload_(std::move(other.upload_)),
      number_(other.number_),
      span_offset_(other.span_offset_),
      span_size_(other.span_size_),
      written_(other.written_),
      expected_digest_(other.expected_digest_),
      hash_(other.hash_),
      error_(other.error_),
      done_(other.done_),
      write_behind_(other.write_behind_),
      created_upload_(other.created_upload_),
      inline_file_hash_(other.inline_file_hash_),
      file_hash_before_(other.file_hash_before_) {
  other.done_ = true;
}

ChunkWriter::~ChunkWriter() { abandon(); }

bool ChunkWriter::write(const std::uint8_t* data, std::size_t length) {
  if (error_) return false;
  if (length > span_size_ - written_) {
    error_ = ErrorCode::invalid_body;  // more bytes than the chunk can have
    return false;
  }
  hash_.update(data, length);
  if (inline_file_hash_) crypto_generichash_update(&upload_->file_hash, data, length);
  if (auto status = upload_->data->write_at(span_offset_ + written_, data, length); !status) {
    error_ = storage_error(status);
    if (registry_->log_) registry_->log_("chunk write failed: " + status.detail);
    return false;
  }
  written_ += length;
  return true;
}

bool ChunkWriter::write_received(std::span<const std::uint8_t> received) {
  if (write_behind_ == nullptr) return write(received.data(), received.size());
  if (error_) return false;
  if (received.size() > span_size_ - written_) {
    error_ = ErrorCode::invalid_body;
    return false;
  }
  if (write_behind_->failed()) {
    error_ = storage_error(write_behind_->drain());
    return false;
  }
  hash_.update(received.data(), received.size());
  // The whole-file pass runs beside this thread, in order, on the write-behind's pool thread.
  write_behind_->write(*upload_->data, span_offset_ + written_, received.size(),
                       inline_file_hash_ ? &upload_->file_hash : nullptr);
  written_ += received.size();
  return true;
}

void ChunkWriter::abandon() {
  if (done_ || !upload_) return;
  done_ = true;
  // No queued byte may land after the chunk is given back to another writer.
  if (write_behind_ != nullptr) write_behind_->drain();
  bool forget_empty_upload = false;
  {
    std::lock_guard lock(upload_->mutex);
    if (upload_->chunks[number_ - 1] == ChunkState::writing) upload_->chunks[number_ - 1] = ChunkState::absent;
    --upload_->active_writers;
    if (inline_file_hash_) {
      upload_->file_hash = file_hash_before_;  // the failed chunk's bytes must not count
      upload_->hashing = false;
    }
    if (created_upload_ && upload_->received == 0 && upload_->active_writers == 0 && !upload_->hashing &&
        !upload_->removed) {
      upload_->removed = true;
      forget_empty_upload = true;
    }
    upload_->changed.notify_all();
  }
  if (forget_empty_upload) registry_->forget(upload_, false);
}

ChunkOutcome ChunkWriter::finish(ReadBack& read_back) {
  if (done_) return ErrorCode::internal_error;
  if (write_behind_ != nullptr) {
    if (auto status = write_behind_->drain(); !status && !error_) {
      error_ = storage_error(status);
      if (registry_->log_) registry_->log_("chunk write failed: " + status.detail);
    }
  }
  if (!error_ && written_ != span_size_) error_ = ErrorCode::incomplete_body;
  const core::Digest digest = hash_.finish();
  if (!error_ && expected_digest_ && !core::digests_equal(*expected_digest_, digest)) {
    error_ = ErrorCode::chunk_digest_mismatch;
  }
  if (!error_) {
    // The bytes must be durable before the record says they are there.
    StorageStatus status = upload_->data->sync_data();
    if (status) status = upload_->data->record_chunk({number_, digest});
    if (!status) {
      error_ = storage_error(status);
      if (registry_->log_) registry_->log_("recording chunk failed: " + status.detail);
    }
  }
  if (error_) {
    abandon();
    return *error_;
  }
  done_ = true;
  return registry_->chunk_finished(upload_, number_, digest, read_back, inline_file_hash_);
}

// ---- UploadRegistry ---------------------------------------------------------------------------

UploadRegistry::UploadRegistry(std::shared_ptr<UploadStorage> storage, UploadLimits limits,
                               CompletionCallback on_complete, Logger log)
    : storage_(std::move(storage)), limits_(std::move(limits)), on_complete_(std::move(on_complete)), log_(std::move(log)) {}

UploadRegistry::~UploadRegistry() = default;

void UploadRegistry::load() {
  for (const auto& id : storage_->list()) {
    std::unique_ptr<UploadData> data;
    const StorageStatus opened = storage_->open(id, data);
    if (opened.code == StorageCode::not_found) {
      storage_->remove(id, false);  // a create that never wrote its manifest
      continue;
    }
    if (!opened) {
      if (log_) log_("skipping upload " + id + ": " + opened.detail);
      continue;
    }
    auto upload = std::make_shared<Upload>();
    upload->manifest = data->manifest();
    const auto n = upload->manifest.chunk_count;
    const auto& m = upload->manifest;
    if (n == 0 || n > limits_.max_chunks * 4 || !core::ChunkGeometry::from_declared(m.total_size, m.chunk_size, n)) {
      if (log_) log_("skipping upload " + id + ": implausible geometry in its manifest");
      continue;
    }
    upload->chunks.assign(n, ChunkState::absent);
    upload->digests.assign(n, core::Digest{});
    for (const auto& record : data->recorded_chunks()) {
      if (record.number < 1 || record.number > n) continue;
      if (upload->chunks[record.number - 1] != ChunkState::present) ++upload->received;
      upload->chunks[record.number - 1] = ChunkState::present;
      upload->digests[record.number - 1] = record.digest;
    }
    upload->final = data->final_record();
    if (upload->final) {
      // A release interrupted by a crash is finished now (idempotent).
      if (auto status = data->release(*upload->final); !status && log_) {
        log_("finishing release of " + id + " failed: " + status.detail);
      }
    }
    upload->last_activity = data->last_activity();
    upload->data = std::move(data);

    std::lock_guard lock(mutex_);
    const Key key{upload->manifest.principal, upload->manifest.identifier};
    auto& slot = by_key_[key];
    if (slot && slot->manifest.created_unix >= upload->manifest.created_unix) continue;  // keep the newer
    slot = upload;
    if (upload->final) {
      by_token_[upload->final->token] = upload;
    } else {
      ++unfinished_per_principal_[upload->manifest.principal];
    }
  }
}

std::optional<ErrorCode> UploadRegistry::validate(const ChunkRequest& request) const {
  if (request.chunk_size < limits_.min_chunk_size || request.chunk_size > limits_.max_chunk_size ||
      request.chunk_size == 0) {
    return ErrorCode::chunk_size_not_allowed;
  }
  if (request.total_size > limits_.max_file_size) return ErrorCode::file_too_large;
  const auto verdict = core::validate_chunk(request.total_size, request.chunk_size, request.chunk_count,
                                            request.number, request.current_size);
  if (verdict != core::ChunkVerdict::ok) return ErrorCode::invalid_geometry;
  if (request.chunk_count > limits_.max_chunks) return ErrorCode::too_many_chunks;
  if (!type_allowed(limits_, request)) return ErrorCode::type_not_allowed;
  return std::nullopt;
}

std::shared_ptr<Upload> UploadRegistry::find(const Key& key) {
  std::lock_guard lock(mutex_);
  const auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

std::optional<ErrorCode> UploadRegistry::check_matches(const Upload& upload, const ChunkRequest& request) const {
  const auto& m = upload.manifest;
  if (m.total_size != request.total_size || m.chunk_size != request.chunk_size ||
      m.chunk_count != request.chunk_count || m.file_name != request.file_name) {
    return ErrorCode::upload_conflict;
  }
  if (request.file_digest && m.declared_file_digest &&
      !core::digests_equal(*request.file_digest, *m.declared_file_digest)) {
    return ErrorCode::upload_conflict;
  }
  return std::nullopt;
}

FinalResult UploadRegistry::final_result(const Upload& upload) const {
  FinalResult result;
  result.token = upload.final->token;
  result.identifier = upload.manifest.identifier;
  result.file_name = upload.manifest.file_name;
  result.size = upload.manifest.total_size;
  result.chunk_count = upload.manifest.chunk_count;
  result.digest = upload.final->file_digest;
  return result;
}

ChunkStart UploadRegistry::begin_chunk(const std::string& principal, const ChunkRequest& request) {
  if (auto error = validate(request)) return *error;
  const Key key{principal, request.identifier};
  // An upload can be cancelled or collected between lookup and lock; then start over (bounded).
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<Upload> upload;
    bool created = false;
    {
      std::lock_guard lock(mutex_);
      auto& slot = by_key_[key];
      if (!slot) {
        if (unfinished_per_principal_[principal] >= limits_.max_uploads_per_principal) {
          by_key_.erase(key);
          return ErrorCode::too_many_uploads;
        }
        auto created_upload = std::make_shared<Upload>();
        auto& m = created_upload->manifest;
        m.upload_id = random_hex(16);
        m.principal = principal;
        m.identifier = request.identifier;
        m.file_name = request.file_name;
        m.relative_path = request.relative_path;
        m.mime_type = request.mime_type;
        m.total_size = request.total_size;
        m.chunk_size = request.chunk_size;
        m.chunk_count = request.chunk_count;
        m.declared_file_digest = request.file_digest;
        m.created_unix = unix_seconds(Clock::now());
        if (auto status = storage_->create(m, created_upload->data); !status) {
          by_key_.erase(key);
          if (log_) log_("creating upload failed: " + status.detail);
          return storage_error(status);
        }
        created_upload->chunks.assign(m.chunk_count, ChunkState::absent);
        created_upload->digests.assign(m.chunk_count, core::Digest{});
        created_upload->hash_progress_loaded = true;  // nothing to load for a new upload
        crypto_generichash_init(&created_upload->file_hash, nullptr, 0, core::digest_bytes);
        created_upload->last_activity = Clock::now();
        slot = created_upload;
        ++unfinished_per_principal_[principal];
        created = true;
      }
      upload = slot;
    }

    std::unique_lock lock(upload->mutex);
    // Removed (cancelled, collected, emptied) but maybe not yet out of the index: take it out here,
    // so the next attempt creates a fresh upload instead of finding this one again.
    auto drop_removed = [&] {
      lock.unlock();
      std::lock_guard index_lock(mutex_);
      if (auto it = by_key_.find(key); it != by_key_.end() && it->second == upload) by_key_.erase(it);
    };
    if (upload->removed) {
      drop_removed();
      continue;
    }
    if (auto error = check_matches(*upload, request)) return *error;
    if (upload->final) return final_result(*upload);
    if (request.file_digest && !upload->manifest.declared_file_digest) {
      // A client may learn the file's digest only after its first chunks (the widget hashes while
      // it sends); from the first declaration on, the release is verified against it.
      if (auto status = upload->data->declare_file_digest(*request.file_digest); !status) {
        if (log_) log_("recording the declared file digest failed: " + status.detail);
        return storage_error(status);
      }
      upload->manifest.declared_file_digest = request.file_digest;
    }
    const std::size_t index = request.number - 1;
    const auto deadline = std::chrono::steady_clock::now() + limits_.chunk_wait;
    // Two requests for one chunk never write at once: the later one waits for the earlier.
    while (upload->chunks[index] == ChunkState::writing && !upload->removed) {
      if (upload->changed.wait_until(lock, deadline) == std::cv_status::timeout &&
          upload->chunks[index] == ChunkState::writing) {
        return ErrorCode::chunk_busy;
      }
    }
    if (upload->removed) {
      drop_removed();
      continue;
    }
    if (upload->final) return final_result(*upload);
    upload->last_activity = Clock::now();
    if (upload->chunks[index] == ChunkState::present) {
      if (request.chunk_digest && !core::digests_equal(*request.chunk_digest, upload->digests[index])) {
        return ErrorCode::chunk_conflict;
      }
      return ChunkStored{request.number, upload->received, upload->manifest.chunk_count, true};
    }
    upload->chunks[index] = ChunkState::writing;
    ++upload->active_writers;
    const auto span = core::ChunkGeometry::from_declared(request.total_size, request.chunk_size, request.chunk_count)
                          ->span(request.number);
    ChunkWriter writer(*this, upload, request.number, span->offset, span->size, request.chunk_digest);
    writer.created_upload_ = created;
    if (!upload->hashing && upload->hash_progress_loaded && upload->hashed_chunks == index) {
      upload->hashing = true;
      writer.inline_file_hash_ = true;
      writer.file_hash_before_ = upload->file_hash;
    }
    return writer;
  }
  return ErrorCode::chunk_busy;
}

ChunkOutcome UploadRegistry::chunk_finished(const std::shared_ptr<Upload>& upload, std::uint64_t number,
                                            const core::Digest& digest, ReadBack& read_back,
                                            bool holds_file_hash) {
  ChunkStored stored;
  {
    std::lock_guard lock(upload->mutex);
    --upload->active_writers;
    if (upload->removed) {
      if (holds_file_hash) upload->hashing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
    if (holds_file_hash) upload->hashed_chunks = number;
    upload->chunks[number - 1] = ChunkState::present;
    upload->digests[number - 1] = digest;
    ++upload->received;
    upload->last_activity = Clock::now();
    stored = {number, upload->received, upload->manifest.chunk_count, false};
    upload->changed.notify_all();
  }
  if (auto outcome = advance_file_hash(upload, read_back, holds_file_hash)) return *outcome;
  if (stored.received < stored.chunk_count) return stored;

  // This request delivered the last missing chunk while another thread is still hashing: wait for
  // its release, so this reply carries the final result too.
  std::unique_lock lock(upload->mutex);
  upload->changed.wait_for(lock, finalize_wait, [&] { return upload->final || upload->removed || !upload->hashing; });
  if (upload->final) return final_result(*upload);
  if (!upload->hashing && !upload->removed) {
    lock.unlock();
    if (auto outcome = advance_file_hash(upload, read_back)) return *outcome;
  }
  return stored;
}

std::optional<ChunkOutcome> UploadRegistry::resume_finalization(const std::string& principal,
                                                                const std::string& identifier,
                                                                ReadBack& read_back) {
  const auto upload = find({principal, identifier});
  if (!upload) return std::nullopt;
  {
    std::lock_guard lock(upload->mutex);
    if (upload->final) return final_result(*upload);
    if (upload->received < upload->manifest.chunk_count) return std::nullopt;
  }
  return advance_file_hash(upload, read_back);
}

std::optional<ChunkOutcome> UploadRegistry::advance_file_hash(const std::shared_ptr<Upload>& upload,
                                                              ReadBack& read_back, bool holds_file_hash) {
  std::unique_lock lock(upload->mutex);
  if (holds_file_hash) {
    if (upload->final || upload->removed) {
      upload->hashing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
  } else {
    if (upload->hashing || upload->final || upload->removed) return std::nullopt;
    upload->hashing = true;
  }
  const std::uint64_t n = upload->manifest.chunk_count;
  if (!upload->hash_progress_loaded) {
    upload->hash_progress_loaded = true;
    crypto_generichash_init(&upload->file_hash, nullptr, 0, core::digest_bytes);
    upload->hashed_chunks = 0;
    if (auto blob = upload->data->load_hash_progress()) {
      std::uint64_t hashed = 0;
      crypto_generichash_state state;
      const bool usable = decode_progress(*blob, hashed, state) && hashed <= n &&
                          std::all_of(upload->chunks.begin(), upload->chunks.begin() + static_cast<std::ptrdiff_t>(hashed),
                                      [](ChunkState s) { return s == ChunkState::present; });
      if (usable) {
        upload->file_hash = state;
        upload->hashed_chunks = hashed;
        upload->saved_hashed_chunks = hashed;
      }
    }
  }
  const auto geometry = core::ChunkGeometry::from_declared(upload->manifest.total_size, upload->manifest.chunk_size, n);
  bool saved = !holds_file_hash;  // an inline-hashing writer has advanced the hash unsaved
  for (;;) {
    if (upload->hashed_chunks == n) {
      lock.unlock();
      crypto_generichash_state copy = upload->file_hash;
      core::Digest digest{};
      crypto_generichash_final(&copy, digest.data(), digest.size());
      return release(upload, digest, read_back);
    }
    const std::uint64_t next = upload->hashed_chunks + 1;
    if (upload->chunks[next - 1] != ChunkState::present || upload->removed) {
      const std::uint64_t unsaved_bytes =
          (upload->hashed_chunks - std::min(upload->saved_hashed_chunks, upload->hashed_chunks)) *
          upload->manifest.chunk_size;
      if (!saved && !upload->removed && unsaved_bytes >= limits_.hash_progress_interval_bytes) {
        // Save under `hashing` so that no two threads write the progress file at once (and never
        // into the directory of an upload that is being removed). Not after every chunk: a file
        // creation and a rename per chunk cost more than re-reading a few chunks after a restart.
        const std::uint64_t hashed = upload->hashed_chunks;
        lock.unlock();
        upload->data->save_hash_progress(encode_progress(hashed, upload->file_hash));
        upload->saved_hashed_chunks = hashed;
        saved = true;
        lock.lock();
        continue;  // a chunk may have arrived meanwhile
      }
      upload->hashing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
    lock.unlock();
    // Fold chunk `next` into the file hash by reading it back (from the page cache, usually).
    const auto span = geometry->span(next);
    const StorageStatus status = read_back.read(*upload->data, span->offset, span->size, [&](auto piece) {
      crypto_generichash_update(&upload->file_hash, piece.data(), piece.size());
    });
    lock.lock();
    if (!status) {
      if (log_) log_("reading back chunk failed: " + status.detail);
      // The state may now hold a partial chunk: start over from the beginning next time.
      crypto_generichash_init(&upload->file_hash, nullptr, 0, core::digest_bytes);
      upload->hashed_chunks = 0;
      upload->hashing = false;
      upload->changed.notify_all();
      return ErrorCode::internal_error;
    }
    upload->hashed_chunks = next;
    saved = false;
  }
}

ChunkOutcome UploadRegistry::release(const std::shared_ptr<Upload>& upload, const core::Digest& hashed_digest,
                                     ReadBack& read_back) {
  // Called by the thread that holds `hashing`, without the upload lock.
  core::Digest digest = hashed_digest;
  const auto& m = upload->manifest;
  auto give_up = [&](ErrorCode code) -> ChunkOutcome {
    std::lock_guard lock(upload->mutex);
    upload->hashing = false;
    upload->changed.notify_all();
    return code;
  };
  if (m.declared_file_digest && !core::digests_equal(*m.declared_file_digest, digest)) {
    // Before discarding anything, recompute from the bytes themselves: saved progress could be stale.
    crypto_generichash_state state;
    crypto_generichash_init(&state, nullptr, 0, core::digest_bytes);
    const StorageStatus status = read_back.read(*upload->data, 0, m.total_size, [&](auto piece) {
      crypto_generichash_update(&state, piece.data(), piece.size());
    });
    if (!status) return give_up(ErrorCode::internal_error);
    crypto_generichash_final(&state, digest.data(), digest.size());
    if (!core::digests_equal(*m.declared_file_digest, digest)) {
      if (log_) log_("upload " + m.upload_id + " discarded: file digest differs from the declared one");
      {
        std::lock_guard lock(upload->mutex);
        upload->removed = true;
        upload->hashing = false;
        upload->changed.notify_all();
      }
      forget(upload, false);
      return ErrorCode::file_digest_mismatch;
    }
  }

  FinalRecord final;
  final.token = random_hex(32);
  final.file_digest = digest;
  final.location = upload->data->location_for_release();
  final.completed_unix = unix_seconds(Clock::now());
  {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) {
      upload->hashing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
  }
  if (auto status = upload->data->release(final); !status) {
    if (log_) log_("releasing upload " + m.upload_id + " failed: " + status.detail);
    return give_up(storage_error(status));
  }
  {
    std::lock_guard lock(upload->mutex);
    upload->final = final;  // also when cancelled meanwhile: cancel() then deletes the released file
    upload->hashing = false;
    upload->last_activity = Clock::now();
    upload->changed.notify_all();
    if (upload->removed) return ErrorCode::upload_not_found;
  }
  {
    std::lock_guard lock(mutex_);
    by_token_[final.token] = upload;
    auto& unfinished = unfinished_per_principal_[m.principal];
    if (unfinished > 0) --unfinished;
  }
  if (on_complete_) {
    on_complete_(CompletedUpload{m.principal, m.identifier, m.file_name, m.total_size, digest, final.token,
                                 final.location});
  }
  return final_result(*upload);
}

TestOutcome UploadRegistry::test_chunk(const std::string& principal, const ChunkRequest& request) {
  if (auto error = validate(request)) return *error;
  const auto upload = find({principal, request.identifier});
  if (!upload) return TestResult::absent;
  std::lock_guard lock(upload->mutex);
  if (upload->removed) return TestResult::absent;
  if (auto error = check_matches(*upload, request)) return *error;
  if (upload->final) return final_result(*upload);
  const std::size_t index = request.number - 1;
  if (upload->chunks[index] != ChunkState::present) return TestResult::absent;
  if (request.chunk_digest && !core::digests_equal(*request.chunk_digest, upload->digests[index])) {
    return TestResult::absent;
  }
  return TestResult::present;
}

StatusOutcome UploadRegistry::status(const std::string& principal, const std::string& identifier) {
  const auto upload = find({principal, identifier});
  if (!upload) return ErrorCode::upload_not_found;
  std::lock_guard lock(upload->mutex);
  if (upload->removed) return ErrorCode::upload_not_found;
  if (upload->final) return final_result(*upload);
  UploadStatus status;
  status.identifier = upload->manifest.identifier;
  status.file_name = upload->manifest.file_name;
  status.total_size = upload->manifest.total_size;
  status.chunk_size = upload->manifest.chunk_size;
  status.chunk_count = upload->manifest.chunk_count;
  status.declared_file_digest = upload->manifest.declared_file_digest;
  status.chunks.reserve(upload->received);
  for (std::size_t i = 0; i < upload->chunks.size(); ++i) {
    if (upload->chunks[i] == ChunkState::present) status.chunks.emplace_back(i + 1, upload->digests[i]);
  }
  return status;
}

void UploadRegistry::cancel(const std::string& principal, const std::string& identifier) {
  const auto upload = find({principal, identifier});
  if (!upload) return;
  {
    std::unique_lock lock(upload->mutex);
    if (upload->removed) return;
    upload->removed = true;
    upload->changed.notify_all();
    // A thread folding chunks into the file hash stops at the next chunk once it sees `removed`; one
    // releasing the file finishes its rename first. Wait for it, so that a file released at this
    // very moment is deleted below instead of being left behind.
    upload->changed.wait_for(lock, finalize_wait, [&] { return !upload->hashing; });
  }
  forget(upload, true);
}

void UploadRegistry::forget(const std::shared_ptr<Upload>& upload, bool remove_released_file) {
  bool was_final = false;
  {
    std::lock_guard lock(upload->mutex);
    was_final = upload->final.has_value();
  }
  {
    std::lock_guard lock(mutex_);
    const Key key{upload->manifest.principal, upload->manifest.identifier};
    if (auto it = by_key_.find(key); it != by_key_.end() && it->second == upload) by_key_.erase(it);
    if (was_final) {
      by_token_.erase(upload->final->token);
    } else if (auto& unfinished = unfinished_per_principal_[upload->manifest.principal]; unfinished > 0) {
      --unfinished;
    }
  }
  if (auto status = storage_->remove(upload->manifest.upload_id, remove_released_file); !status && log_) {
    log_("removing upload " + upload->manifest.upload_id + " failed: " + status.detail);
  }
}

std::variant<ErrorCode, ClaimedUpload> UploadRegistry::claim(const std::string& token, const std::string& principal) {
  std::shared_ptr<Upload> upload;
  {
    std::lock_guard lock(mutex_);
    const auto it = by_token_.find(token);
    if (it == by_token_.end() || it->second->manifest.principal != principal) return ErrorCode::upload_not_found;
    upload = it->second;
    by_token_.erase(it);
    const Key key{upload->manifest.principal, upload->manifest.identifier};
    if (auto k = by_key_.find(key); k != by_key_.end() && k->second == upload) by_key_.erase(k);
  }
  ClaimedUpload claimed;
  {
    std::lock_guard lock(upload->mutex);
    upload->removed = true;
    claimed.location = upload->final->location;
    claimed.file_name = upload->manifest.file_name;
    claimed.identifier = upload->manifest.identifier;
    claimed.size = upload->manifest.total_size;
    claimed.digest = upload->final->file_digest;
  }
  // The file now belongs to the application; only the record goes.
  if (auto status = storage_->remove(upload->manifest.upload_id, false); !status && log_) {
    log_("removing claimed upload record failed: " + status.detail);
  }
  return claimed;
}

CollectionReport UploadRegistry::collect_stale(Clock::time_point now) {
  std::vector<std::shared_ptr<Upload>> uploads;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, upload] : by_key_) uploads.push_back(upload);
  }
  CollectionReport report;
  for (const auto& upload : uploads) {
    bool remove = false;
    bool released = false;
    {
      std::lock_guard lock(upload->mutex);
      if (upload->removed || upload->active_writers > 0 || upload->hashing) continue;
      if (upload->final) {
        const auto completed = Clock::time_point(std::chrono::seconds(upload->final->completed_unix));
        remove = released = completed + limits_.unclaimed_after <= now;
      } else {
        remove = upload->last_activity + limits_.stale_after <= now;
      }
      if (remove) {
        upload->removed = true;
        upload->changed.notify_all();
      }
    }
    if (!remove) continue;
    forget(upload, released);
    ++(released ? report.unclaimed_removed : report.stale_removed);
  }
  return report;
}

std::vector<UploadSummary> UploadRegistry::list_uploads() {
  std::vector<std::shared_ptr<Upload>> uploads;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, upload] : by_key_) uploads.push_back(upload);
  }
  std::vector<UploadSummary> summaries;
  for (const auto& upload : uploads) {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) continue;
    summaries.push_back({upload->manifest.principal, upload->manifest.identifier, upload->manifest.file_name,
                         upload->manifest.total_size, upload->manifest.chunk_count, upload->received,
                         upload->final.has_value(), upload->last_activity});
  }
  return summaries;
}

}  // namespace resumable
