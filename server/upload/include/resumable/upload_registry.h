// The records side of a store, as a registry that several server instances share: uploads (their
// manifests), the piece records with their leaf digests, the final record, the one-time claim and
// the collection of idle uploads. A store whose bytes lie where every instance reaches them (a
// shared filesystem, object storage) keeps its records here instead of beside the bytes
// (FilesystemStoreOptions::registry) and hands it to the core (UploadStore::shared_registry); the
// core then answers every request from the registry's records, so that any instance can take any
// piece of any upload, and status on one instance sees the pieces that the others stored.
//
// One process alone needs none of this: the filesystem and memory stores keep their records beside
// the bytes, as before, and the device profile builds no registry.
//
// Guarantees an implementation gives, each by one atomic conditional write of its own (never a lock
// held by the caller across calls, so a crashed instance holds nothing):
//   - create: at most one upload per (principal, identifier) at a time (conflict for the second);
//   - record_final: the first final record of an upload wins, exactly once; every later caller gets
//     that record back (and so the same token), and knows it did not release;
//   - claim: succeeds for exactly one caller per token; every other one, and any after a removal, gets
//     not_found;
//   - retire_idle: retires only an upload that is idle by the registry's own records, so a
//     collection on one instance never removes an upload that another instance is receiving, nor
//     one claimed at the same moment.
// PostgreSQL (server/registries/postgresql/) gives these with single statements under READ
// COMMITTED: a unique constraint, UPDATE ... WHERE token IS NULL RETURNING, and DELETE ... WHERE
// ... RETURNING (docs/scale-out.md says why these and not a transaction holding row locks).
//
// Threads: every method may be called from many threads at once. Nothing throws; failures are
// StorageStatus values (unavailable: retry later, nothing was recorded; detail is for logs only).
// Times are the registry's clock where it records activity; cutoffs come from the caller's clock,
// so the instances' clocks and the registry's should agree to well within limits.stale_after.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "resumable/upload_store.h"

namespace resumable {

// What a registry holds of one upload.
struct UploadRecords {
  UploadManifest manifest;
  std::vector<PieceRecord> pieces;  // ascending offsets
  std::optional<FinalRecord> final;
  std::chrono::system_clock::time_point last_activity;  // its creation, last piece or release
};

class UploadRegistry {
 public:
  using Clock = std::chrono::system_clock;
  virtual ~UploadRegistry() = default;

  // Records a new upload (its activity now). conflict when (principal, identifier) already names
  // one, finished and unclaimed ones included.
  virtual StorageStatus create(const UploadManifest& manifest) = 0;
  // Every record is validated before it is returned: not_found for no such upload, corrupt for
  // records the core could not have written (damaged leaves, a size out of range).
  virtual StorageStatus open(const std::string& upload_id, UploadRecords& out) = 0;
  // The id of the upload under (principal, identifier); not_found when there is none.
  virtual StorageStatus find(const std::string& principal, const std::string& identifier, std::string& upload_id) = 0;
  virtual StorageStatus list(std::vector<std::string>& upload_ids) = 0;

  // Records a committed piece and the upload's activity. The same record again (a retry, or the
  // same piece stored by two instances) is success; a record at the same offset with another
  // size or digest is conflict (the first one stays); not_found when the upload is gone.
  virtual StorageStatus record_piece(const std::string& upload_id, const PieceRecord& piece) = 0;
  // Records the upload's activity now: a piece's body is arriving (the core calls it before it
  // reads the body's first buffer, then before a later buffer once stale_after / 4 has passed), so
  // that retire_idle on another instance never takes an upload whose body this one is receiving. not_found when the upload is gone or
  // retired: the writer stops with upload_not_found.
  virtual StorageStatus record_activity(const std::string& upload_id) = 0;
  // Replaces the manifest (upload_id and principal never change); not_found when the upload is gone.
  virtual StorageStatus update_manifest(const UploadManifest& manifest) = 0;
  // Records `final` unless the upload has a final record already: then `final` becomes that one.
  // Exactly one caller's record is ever recorded. not_found when the upload is gone.
  virtual StorageStatus record_final(const std::string& upload_id, FinalRecord& final) = 0;
  // The one-time claim: takes the upload with this token if it belongs to `principal` and deletes
  // its records, in one step; `out` then holds what they were. not_found for everyone else.
  virtual StorageStatus claim(const std::string& token, const std::string& principal, UploadRecords& out) = 0;
  // Collection's one-time decision: retires the upload if, by the registry's records, it is idle:
  // unfinished with its last activity before `unfinished_before`, or finished before
  // `finished_before`. A retired upload is gone for every instance (find, claim, record_* say
  // not_found) but open() still reads it, so that the collector can remove its bytes and then its
  // records (UploadStore::remove). conflict when it is not idle (active on some instance), not_found
  // when it is gone or retired already.
  virtual StorageStatus retire_idle(const std::string& upload_id, Clock::time_point unfinished_before,
                                    Clock::time_point finished_before) = 0;
  // Deletes the upload's records whatever their state (cancel, a refused first piece, a discarded
  // file, a retired upload's last step). Success when they are gone already.
  virtual StorageStatus remove(const std::string& upload_id) = 0;
};

}  // namespace resumable
