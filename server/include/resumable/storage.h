// Storage backend interface (the RESUMABLE_STORAGE equivalent): where an upload's bytes and its
// record live. The protocol handler knows no disk, only this interface. The default backend is the
// local filesystem (make_filesystem_storage); a device can implement it on flash.
//
// Thread-safety: a backend is used by many request threads at once. For one UploadData, write_at
// and read_at run concurrently on disjoint ranges; every other UploadData call is serialised by the
// caller. No method throws; failures are reported as StorageStatus.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resumable/digest.h"

namespace resumable {

enum class StorageCode : std::uint8_t { ok, not_found, no_space, io_error };

struct StorageStatus {
  StorageCode code = StorageCode::ok;
  std::string detail;  // for logs, never for clients
  explicit operator bool() const { return code == StorageCode::ok; }
  static StorageStatus success() { return {}; }
};

// What is fixed when an upload starts (its first chunk).
struct UploadManifest {
  std::string upload_id;  // server-chosen: 32 lower-case hex digits, random
  std::string principal;
  std::string identifier;
  std::string file_name;      // client-supplied, display only
  std::string relative_path;  // client-supplied, display only
  std::string mime_type;
  std::uint64_t total_size = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t chunk_count = 0;
  std::optional<core::Digest> declared_file_digest;
  std::int64_t created_unix = 0;
};

struct ChunkRecord {
  std::uint64_t number = 0;
  core::Digest digest{};
};

// Written before the file is released, so a restart can finish a release it interrupted.
struct FinalRecord {
  std::string token;  // 64 hex digits, random; the claim secret
  core::Digest file_digest{};
  std::string location;  // where the released file lives (a path for the filesystem backend)
  std::int64_t completed_unix = 0;
};

// One upload's data and record.
class UploadData {
 public:
  virtual ~UploadData() = default;
  virtual const UploadManifest& manifest() const = 0;

  virtual StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) = 0;
  virtual StorageStatus read_at(std::uint64_t offset, void* data, std::size_t length) = 0;
  // Makes written bytes durable (no-op when the backend is not durable).
  virtual StorageStatus sync_data() = 0;

  // Records a whole-file digest the client declared after the upload started (durably, in the
  // manifest): the release is then verified against it.
  virtual StorageStatus declare_file_digest(const core::Digest& digest) = 0;

  // Appends a received chunk to the persistent record (durable when the backend is).
  virtual StorageStatus record_chunk(const ChunkRecord& record) = 0;
  // Every chunk recorded so far; a torn last record (power loss mid-append) is ignored.
  virtual std::vector<ChunkRecord> recorded_chunks() = 0;

  // Opaque progress of the whole-file hash, saved best effort so a restart need not re-read.
  virtual void save_hash_progress(std::span<const std::uint8_t> blob) = 0;
  virtual std::optional<std::vector<std::uint8_t>> load_hash_progress() = 0;

  // Records `final` (its location chosen by location_for_release) durably, then moves the data
  // there. Idempotent: calling it again after a crash completes an interrupted release.
  virtual std::string location_for_release() = 0;
  virtual StorageStatus release(const FinalRecord& final) = 0;
  virtual std::optional<FinalRecord> final_record() = 0;

  virtual std::chrono::system_clock::time_point last_activity() = 0;
};

class UploadStorage {
 public:
  virtual ~UploadStorage() = default;
  // Creates an upload with space for manifest.total_size bytes (no_space if it cannot have it).
  virtual StorageStatus create(const UploadManifest& manifest, std::unique_ptr<UploadData>& out) = 0;
  virtual StorageStatus open(const std::string& upload_id, std::unique_ptr<UploadData>& out) = 0;
  virtual std::vector<std::string> list() = 0;
  // Deletes the upload's record and data, and its released file too if `released_file` is set.
  virtual StorageStatus remove(const std::string& upload_id, bool released_file) = 0;
};

struct FilesystemStorageOptions {
  std::filesystem::path chunk_dir;  // partial files and records (chunks_upload_to)
  std::filesystem::path upload_to;  // released files
  // fsync data before a chunk is recorded and the record after: a recorded chunk survives power loss.
  bool durable = true;
  // Reserve each upload's full size at its first chunk, so a full disk is reported up front.
  bool preallocate = true;
  // Write whole 4 KiB-aligned blocks of chunk data with O_DIRECT, bypassing the page cache (falls
  // back to buffered writes where the filesystem refuses it). Chunks go to the device as they
  // arrive instead of piling up as dirty pages; reading a file back then comes from the device.
  bool direct_io = true;
};

// Creates both directories if needed; nullptr (with `error` set) if they cannot be created.
std::unique_ptr<UploadStorage> make_filesystem_storage(const FilesystemStorageOptions& options,
                                                       std::string* error = nullptr);

}  // namespace resumable
