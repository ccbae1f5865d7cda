// The storage interface of the upload core: where an upload's bytes and its records live. A store
// implements a small core (create, open, list, remove; write at an offset, commit a piece, update
// the manifest, release) and may offer an optional capability (read-back); where it is missing
// the core takes another path, so a store that cannot read back (S3 during a multipart upload, a
// flash slot) still works. A second optional capability (splice) lets a store join uploads' bytes
// itself, for concatenation (tus Upload-Concat); without it the core copies them through read-back.
//
// Threads: a store is used by many request threads at once. For one StoredUpload, write_at and
// ReadBack::read_at run concurrently on disjoint ranges, and commit_piece concurrently with both
// and with itself (for different pieces). update_manifest is serialised with itself and with
// release, but may run while pieces are written or committed; release runs once every piece is
// committed, and nothing is written after it. Nothing here may throw; failures are StorageStatus
// values whose `detail` is for logs, never for clients.
//
// Durability: when commit_piece or release returns success, what it recorded survives a crash of
// the process, and with a durable store a power loss too: open() after a restart reports it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resumable/digest.h"
#include "resumable/errors.h"

namespace resumable {

enum class StorageCode : std::uint8_t {
  ok,
  not_found,  // no such upload (open: a creation that never finished, which the core removes)
  no_space,   // the client sees insufficient_storage (507)
  io_error,   // the client sees internal_error (500)
  corrupt,    // open: records that cannot be trusted; the core never serves the upload and removes
              // it once limits.stale_after has passed
  refused,    // the store's own policy says no (a slot too small, an update pending, an image whose
              // signature fails): the client sees `refusal`. From release(): the upload is discarded.
  // Shared registries (upload_registry.h) and remote stores (S3) only; local stores never return these two.
  conflict,     // create: another instance holds an upload under this (principal, identifier) now;
                // commit_piece: the piece is recorded with other bytes. The core looks again.
  unavailable,  // the registry or the object store cannot be reached or asked to retry (a lost
                // connection, a serialization failure, S3's 503 SlowDown after the store's own
                // retries): nothing was recorded, the client may retry (server_busy, 503)
};

struct StorageStatus {
  StorageCode code = StorageCode::ok;
  std::string detail;  // for logs, never for clients
  ErrorCode refusal = ErrorCode::internal_error;  // what the client sees for StorageCode::refused
  explicit operator bool() const { return code == StorageCode::ok; }
  static StorageStatus success() { return {}; }
  static StorageStatus refuse(ErrorCode code, std::string detail) { return {StorageCode::refused, std::move(detail), code}; }
};

// What is fixed when an upload starts (its first piece); rewritten by update_manifest when the
// client declares its file digest (or its size) later.
struct UploadManifest {
  std::string upload_id;  // server-chosen: 32 lower-case hex digits, random
  std::string principal;
  std::string identifier;     // the client's key for the upload, scoped by principal
  std::string file_name;      // client-supplied, display only
  std::string relative_path;  // client-supplied, display only
  std::string mime_type;
  std::optional<std::uint64_t> total_size;  // nullopt: the client has not said yet
  std::optional<core::Digest> declared_file_digest;
  // The front-end's own pinned values (resumable.js: chunk size and count), opaque to the core and
  // the store; a later request must name the same ones.
  std::map<std::string, std::string> protocol_fields;
  std::int64_t created_unix = 0;
  // A part of a later concatenation (tus Upload-Concat: partial): never released as a file of its
  // own; UploadCore::concatenate joins finished ones into a new upload, which takes their bytes.
  bool partial = false;
};

// One verified piece of an upload: the bytes [offset, offset + size), their chunk digest and the
// leaf digests they completed (docs/digest.md: leaves[0] is leaf number first_leaf), from which
// the core computes the file digest without reading the bytes again.
struct PieceRecord {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  core::Digest digest{};
  std::uint64_t first_leaf = 0;
  std::vector<core::Digest> leaves;
};

// Written before the bytes are handed over, so that a restart can finish an interrupted release.
struct FinalRecord {
  std::string token;  // 64 hex digits, random; the claim secret
  core::Digest file_digest{};
  std::string location;  // chosen by the store at release (a path for the filesystem store)
  std::int64_t completed_unix = 0;
};

// Optional capability: bytes already written can be read back. The core uses it only where leaves
// span pieces that arrived out of order (chunk sizes that are not multiples of 1 MiB), to check
// pieces a non-durable store recorded before a restart, and to find a damaged piece when a file
// differs from its declared digest. Without it such pieces must arrive in order.
class ReadBack {
 public:
  virtual ~ReadBack() = default;
  virtual StorageStatus read_at(std::uint64_t offset, void* data, std::size_t length) = 0;
};

class StoredUpload;
class UploadRegistry;

// Optional capability: bytes of another upload of the same store are placed into this one without
// passing through the core (the filesystem store: copy_file_range, which shares the blocks instead
// of copying them where the filesystem can). The source is only read; what is placed is durable
// (for durable stores) when splice_from returns. Runs while nothing else writes either upload.
class Splice {
 public:
  virtual ~Splice() = default;
  // Bytes [0, length) of `source` become bytes [at, at + length) of this upload.
  virtual StorageStatus splice_from(StoredUpload& source, std::uint64_t length, std::uint64_t at) = 0;
};

// One upload's bytes and records.
class StoredUpload {
 public:
  virtual ~StoredUpload() = default;

  // Called before the first byte of a piece is written (also of a piece written again after a
  // failed attempt), without the core's locks held: a flash store erases the piece's blocks here.
  virtual StorageStatus prepare_piece(std::uint64_t /*offset*/, std::uint64_t /*size*/) { return StorageStatus::success(); }
  // Writes bytes of a piece at their offset (not yet committed: a crash may lose them).
  virtual StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) = 0;
  // Makes the piece's bytes durable, then records the piece durably (for durable stores).
  virtual StorageStatus commit_piece(const PieceRecord& piece) = 0;
  // Replaces the recorded manifest (upload_id and principal never change).
  virtual StorageStatus update_manifest(const UploadManifest& manifest) = 0;
  // Records `final` durably, its location chosen here, then hands the bytes over (a rename, a
  // CompleteMultipartUpload, a slot hand-over). Idempotent: called again with the recorded final
  // record after a crash, it completes the hand-over. With a shared registry another instance may
  // have recorded its own final record first: `final` then becomes that one (its token differs
  // from the caller's), the hand-over is completed all the same, and the caller did not release.
  virtual StorageStatus release(FinalRecord& final) = 0;

  // Optional capabilities: nullptr when the store lacks them. Owned by this object.
  virtual ReadBack* read_back() { return nullptr; }
  virtual Splice* splice() { return nullptr; }
};

// What open() finds of an upload left by an earlier run.
struct RecordedUpload {
  UploadManifest manifest;
  std::vector<PieceRecord> pieces;  // committed pieces; a torn last record is ignored
  // Each recorded piece's bytes were durable before its record (a durable store): the core trusts
  // them without reading them back. Otherwise a crash may have lost bytes whose record survived.
  bool pieces_durable = false;
  std::optional<FinalRecord> final;
  std::chrono::system_clock::time_point last_activity;
  std::unique_ptr<StoredUpload> upload;
};

class UploadStore {
 public:
  virtual ~UploadStore() = default;
  // Creates an upload (with space for manifest.total_size bytes when known: no_space otherwise).
  virtual StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) = 0;
  // Every record is validated before it is returned (types, ranges, that a location is the one
  // this store would choose): not_found for no such upload or one whose creation never finished,
  // corrupt for damaged records or missing data.
  virtual StorageStatus open(const std::string& upload_id, RecordedUpload& out) = 0;
  virtual std::vector<std::string> list() = 0;
  // Deletes the upload's records and bytes, and its released file too if `released_file` is set.
  virtual StorageStatus remove(const std::string& upload_id, bool released_file) = 0;

  // Optional capability: the records live in a registry that other instances share (several
  // processes over one database and one data store, upload_registry.h). The core then reads an
  // upload's records from it on every request instead of trusting what it holds itself, and takes
  // one-time decisions (release, claim, collection) by the registry's conditional writes. nullptr
  // for a store that is the only one with its records (the filesystem and memory stores).
  virtual UploadRegistry* shared_registry() { return nullptr; }
};

}  // namespace resumable
