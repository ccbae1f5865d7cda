// UploadCore's state and the helpers its modules share (private to the core):
//   upload_core.cpp    lifecycle: load, begin_piece, cancel, claim, collection
//   piece_writer.cpp   one piece's bytes: digests, write-behind, commit
//   file_digest.cpp    the digest frontier over stored pieces, and the release
//   upload_queries.cpp status, find_piece, list_uploads
//   concatenation.cpp  finished partial uploads joined into a new one
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "resumable/buffer_pool.h"
#include "resumable/upload_core.h"
#include "resumable/upload_registry.h"
#include "upload_index.h"
#include "write_behind.h"

namespace resumable {

// What a client is told of a store's failure.
inline ErrorCode storage_error(const StorageStatus& status) {
  switch (status.code) {
    case StorageCode::refused: return status.refusal;
    case StorageCode::no_space: return ErrorCode::insufficient_storage;
    case StorageCode::unavailable: return ErrorCode::server_busy;  // retryable: nothing was recorded
    default: return ErrorCode::internal_error;
  }
}

struct UploadCore::Impl {
  Impl(std::shared_ptr<UploadStore> store, UploadLimits limits, Hooks hooks);
  ~Impl();

  std::shared_ptr<UploadStore> store;
  // The store's shared registry (UploadStore::shared_registry), or null: then this core is the only
  // one with these records and its index is the truth. Otherwise the index is a cache of the
  // registry, brought up to date (shared.cpp) before every decision that depends on other instances.
  UploadRegistry* registry = nullptr;
  const UploadLimits limits;
  Hooks hooks;
  BufferPool buffers;                     // body buffers of all requests
  RingBudget ring_budget;                 // rings in use and their buffers (sizes the next ring)
  std::unique_ptr<WritePool> write_pool;  // null: pieces are hashed and written on request threads
  UploadIndex index;

  // Uploads cancelled within limits.cancelled_grace, by key: a piece for one starts a provisional upload.
  std::mutex cancelled_mutex;
  std::map<UploadIndex::Key, std::chrono::steady_clock::time_point> recently_cancelled;
  void remember_cancel(const UploadIndex::Key& key);
  bool cancelled_recently(const UploadIndex::Key& key);

  // Uploads whose records could not be trusted at load, by id, with when they were found.
  std::mutex quarantine_mutex;
  std::map<std::string, Clock::time_point> quarantined;

  // Collection schedule (schedule_collection).
  std::chrono::seconds collect_interval{0};
  std::atomic<std::int64_t> next_collection_ms{0};  // steady clock; for collect_if_due
  std::mutex collector_mutex;
  std::condition_variable collector_wake;
  bool stopping = false;
  std::thread collector;

  UploadCore* owner = nullptr;

  void log(const std::string& message) const { hooks.log(message); }
  std::unique_ptr<WriteBehind> make_ring();

  // ---- upload_core.cpp
  // A new upload's record, created in the store (not indexed); null, with `status` saying why, when
  // it cannot be.
  std::shared_ptr<Upload> new_upload(const std::string& principal, const UploadDeclaration& declared,
                                     StorageStatus& status);
  // A new upload, created and indexed within the per-principal and mount counts (too_many_uploads);
  // upload_conflict when the identifier is taken; storage errors. `hold`: it starts with
  // `advancing` set, for a creator that fills and releases it itself (concatenation).
  std::variant<ErrorCode, std::shared_ptr<Upload>> create_indexed(const std::string& principal,
                                                                  const UploadDeclaration& declared, bool hold);
  std::optional<ErrorCode> check_matches(const Upload& upload, const UploadDeclaration& declared) const;
  FinalResult final_result(const Upload& upload) const;
  // Records a change of the manifest in the store, then in memory (upload locked); the error if
  // the store refused it.
  std::optional<ErrorCode> update_manifest(Upload& upload, const std::function<void(UploadManifest&)>& change,
                                           const char* what);
  // Takes a removed upload out of the index and deletes it from the store.
  void forget(const std::shared_ptr<Upload>& upload, bool remove_released_file);
  void run_collector();
  void quarantine(const std::string& upload_id, const std::string& why);
  // Why a loaded manifest cannot be one the core wrote, if it cannot.
  std::optional<std::string> implausible(const UploadManifest& manifest) const;
  void collect_and_log();
  // An upload the store recorded (load, or a shared registry's upload this core did not know),
  // checked and made ready to index; null when it cannot be served (quarantined, with why).
  std::shared_ptr<Upload> adopt(const std::string& upload_id, RecordedUpload& recorded);
  // Adds a recorded piece to `upload` (locked) unless its records cannot be the core's; `replace`:
  // a piece already at its offset gives way (a repeated record: the last one counts), else it stays.
  void add_recorded_piece(Upload& upload, PieceRecord& piece, bool trusted, bool replace) const;

  // ---- shared.cpp: a shared registry (no-ops without one)
  // Brings the index's upload under `key` up to date: loads one that another instance created,
  // merges the pieces and final record others recorded, and drops one that another instance
  // removed (cancelled, claimed, collected). An error when the registry cannot be asked.
  std::optional<ErrorCode> sync(const UploadIndex::Key& key);
  // Merges the registry's records of this indexed upload into it (not locked by the caller).
  std::optional<ErrorCode> refresh(const std::shared_ptr<Upload>& upload);
  // Loads every upload of the registry this core does not know (for collection).
  void sync_all();
  // Another instance removed the upload: out of this index, its bytes left to the remover.
  void drop_removed_elsewhere(const std::shared_ptr<Upload>& upload);
  // The one-time claim through the registry.
  std::variant<ErrorCode, ClaimedUpload> claim_shared(const std::string& token, const std::string& principal);

  // ---- piece_writer.cpp
  // Marks the piece as being written (upload locked) and hands out its writer; `continue_frontier`:
  // the piece starts inside a leaf where the digest frontier stands, and continues that leaf (the
  // writer then holds `advancing`).
  PieceWriter start_writer(const std::shared_ptr<Upload>& upload, const PieceRequest& request, bool created_upload,
                           bool continue_frontier);

  // ---- file_digest.cpp
  // Passes stored pieces in order, folding their leaves into the file digest, and releases the file
  // once every leaf is in. `holds_frontier`: the caller already holds `advancing` (a writer that
  // continued the frontier).
  std::optional<PieceOutcome> advance_frontier(const std::shared_ptr<Upload>& upload, OrderedReader& reader,
                                               bool holds_frontier = false);
  // Releases a fully passed upload (caller holds `advancing`): checks a declared file digest, writes
  // the final record, hands the file over. nullopt when a damaged piece was found and dropped
  // instead (the upload is partial again and asks for it).
  std::optional<PieceOutcome> release(const std::shared_ptr<Upload>& upload, const core::Digest& digest,
                                      OrderedReader& reader);
  // After the file's digest differed from the declared one: reads every piece back and checks it
  // against its recorded digest. The file digest of the bytes if all are intact; otherwise the
  // first damaged piece is dropped and nullopt returned. Caller holds `advancing`, not the lock.
  std::optional<core::Digest> recheck_pieces(const std::shared_ptr<Upload>& upload, ReadBack& source,
                                             OrderedReader& reader);
  // Forgets a piece whose bytes the store lost or changed (or cannot read back) and gives up
  // `advancing`; `rewind`: the frontier as it stood at the piece, when it had passed it. Upload locked.
  void drop_damaged_piece(Upload& upload, std::uint64_t offset, const StorageStatus& read, DigestFrontier* rewind);
  // Whether the frontier can pass the piece at `offset` from its records alone (no read-back).
  static bool passes_without_reading(const Piece& piece, std::uint64_t offset, std::optional<std::uint64_t> total);
  PieceOutcome give_up_advancing(const std::shared_ptr<Upload>& upload, ErrorCode code);
  // An upload every byte of which is stored but which is not released (a crash came between its
  // last record and the release, or the release failed, e.g. on a full disk): releases it now,
  // after waiting for a release another thread has under way. The outcome (the final result, or
  // the error that ended the upload), or nullopt when there is nothing to finish.
  std::optional<PieceOutcome> finish_received(const std::shared_ptr<Upload>& upload);
  // A piece (just committed, with the state of the leaf it ends inside of) is stored: advance the
  // frontier, release, or wait for the release.
  PieceOutcome piece_stored(const std::shared_ptr<Upload>& upload, const PieceRecord& piece,
                            std::unique_ptr<core::LeafHasher> tail, OrderedReader& reader, bool holds_frontier);
};

}  // namespace resumable
